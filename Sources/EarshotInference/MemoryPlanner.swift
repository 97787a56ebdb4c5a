/// Places tensors in one arena so that tensors alive at the same time never overlap (greedy by size, like TFLM's
/// `GreedyMemoryPlanner`): buffers are taken largest first and each goes to the lowest offset free during its lifetime.
struct MemoryPlanner {
    struct Request {
        var size: Int
        /// First and last operator index (inclusive) during which the buffer must hold its data.
        var first: Int
        var last: Int
    }

    static let alignment = 16

    /// Offsets for each request, and the arena size they need.
    static func plan(_ requests: [Request]) -> (offsets: [Int], arenaSize: Int) {
        let order = requests.indices.sorted { requests[$0].size != requests[$1].size ? requests[$0].size > requests[$1].size : $0 < $1 }
        var offsets = [Int](repeating: 0, count: requests.count)
        var placed: [Int] = []
        var arenaSize = 0
        for index in order {
            let request = requests[index]
            let size = (request.size + alignment - 1) / alignment * alignment
            // Live neighbours sorted by offset; slide past each one that would overlap.
            let live = placed.filter { requests[$0].first <= request.last && request.first <= requests[$0].last }
                .sorted { offsets[$0] < offsets[$1] }
            var candidate = 0
            for other in live {
                let otherSize = (requests[other].size + alignment - 1) / alignment * alignment
                if candidate + size <= offsets[other] { break }
                candidate = max(candidate, offsets[other] + otherSize)
            }
            offsets[index] = candidate
            placed.append(index)
            arenaSize = max(arenaSize, candidate + size)
        }
        return (offsets, arenaSize)
    }
}
