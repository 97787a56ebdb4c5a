import Foundation

/// A bounded hand-off between the audio thread and the recogniser thread. For live audio the producer never waits:
/// when the queue is full the oldest waiting item is dropped and counted, so capture cannot stall behind a slow model.
/// For files the producer waits instead (`waitWhenFull`), so nothing is lost and the file is read at the model's pace.
final class UtteranceQueue<Element>: @unchecked Sendable {
    private let condition = NSCondition()
    private var items: [Element] = []
    private var closed = false
    let capacity: Int
    /// Items dropped because the queue was full.
    var dropped: Int { condition.lock(); defer { condition.unlock() }; return droppedCount }
    private var droppedCount = 0

    let waitWhenFull: Bool

    init(capacity: Int, waitWhenFull: Bool = false) {
        self.capacity = max(1, capacity)
        self.waitWhenFull = waitWhenFull
    }

    /// Adds an item; returns false when an older item had to be dropped to make room.
    @discardableResult
    func push(_ item: Element) -> Bool {
        condition.lock(); defer { condition.unlock() }
        while waitWhenFull && items.count >= capacity && !closed { condition.wait() }
        var kept = true
        if items.count >= capacity { items.removeFirst(); droppedCount += 1; kept = false }
        items.append(item)
        condition.signal()
        return kept
    }

    /// The next item, waiting for one; nil once closed and empty.
    func pop() -> Element? {
        condition.lock(); defer { condition.unlock() }
        while items.isEmpty && !closed { condition.wait() }
        guard !items.isEmpty else { return nil }
        condition.broadcast()   // a producer may be waiting for room
        return items.removeFirst()
    }

    /// No more items will come; waiting consumers finish what is queued, then get nil.
    func close() {
        condition.lock(); closed = true; condition.broadcast(); condition.unlock()
    }

    var depth: Int { condition.lock(); defer { condition.unlock() }; return items.count }
}
