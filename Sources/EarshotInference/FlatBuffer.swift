/// A bounds-checked reader of FlatBuffers for untrusted bytes.
///
/// Every offset, length and index is checked against the buffer before it is followed, and every failure is a
/// `ModelError.malformed` naming what was being read; nothing here can trap or read out of bounds.
struct FlatBuffer: Sendable {
    let bytes: [UInt8]

    /// Reads a little-endian integer of type `T` at `offset`.
    func read<T: FixedWidthInteger>(_: T.Type, at offset: Int, _ what: @autoclosure () -> String) throws(ModelError) -> T {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= bytes.count - size else {
            throw .malformed("\(what()) at byte \(offset) lies outside the \(bytes.count)-byte model")
        }
        return bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// The root table's position.
    func root() throws(ModelError) -> Table {
        let offset = Int(try read(UInt32.self, at: 0, "the root offset"))
        return try Table(buffer: self, position: offset, what: "root table")
    }

    /// A table: a position and its vtable.
    struct Table: Sendable {
        let buffer: FlatBuffer
        let position: Int
        let vtable: Int
        let vtableSize: Int
        let what: String

        init(buffer: FlatBuffer, position: Int, what: String) throws(ModelError) {
            self.buffer = buffer
            self.position = position
            self.what = what
            let relative = Int(try buffer.read(Int32.self, at: position, "\(what)'s vtable offset"))
            let vtable = position - relative
            self.vtable = vtable
            let size = Int(try buffer.read(UInt16.self, at: vtable, "\(what)'s vtable"))
            guard size >= 4, size % 2 == 0, vtable + size <= buffer.bytes.count else {
                throw .malformed("\(what)'s vtable has an impossible size \(size)")
            }
            let tableSize = Int(try buffer.read(UInt16.self, at: vtable + 2, "\(what)'s table size"))
            guard position + tableSize <= buffer.bytes.count else {
                throw .malformed("\(what) runs past the end of the model")
            }
            vtableSize = size
        }

        /// Absolute position of field `index`, or nil when absent.
        func fieldPosition(_ index: Int) throws(ModelError) -> Int? {
            let entry = 4 + 2 * index
            guard entry + 2 <= vtableSize else { return nil }
            let offset = Int(try buffer.read(UInt16.self, at: vtable + entry, "\(what) field \(index)"))
            return offset == 0 ? nil : position + offset
        }

        /// A scalar field with a default.
        func scalar<T: FixedWidthInteger>(_ index: Int, default value: T) throws(ModelError) -> T {
            guard let at = try fieldPosition(index) else { return value }
            return try buffer.read(T.self, at: at, "\(what) field \(index)")
        }

        /// A float field with a default.
        func float(_ index: Int, default value: Float) throws(ModelError) -> Float {
            guard let at = try fieldPosition(index) else { return value }
            return Float(bitPattern: try buffer.read(UInt32.self, at: at, "\(what) field \(index)"))
        }

        /// Follows an offset field to its target position.
        private func target(_ index: Int) throws(ModelError) -> Int? {
            guard let at = try fieldPosition(index) else { return nil }
            let relative = Int(try buffer.read(UInt32.self, at: at, "\(what) field \(index) offset"))
            let position = at + relative
            guard position < buffer.bytes.count else { throw .malformed("\(what) field \(index) points outside the model") }
            return position
        }

        /// A sub-table field.
        func table(_ index: Int, _ name: String) throws(ModelError) -> Table? {
            guard let position = try target(index) else { return nil }
            return try Table(buffer: buffer, position: position, what: name)
        }

        /// A vector field: its element count and where its elements start.
        func vector(_ index: Int, elementSize: Int, _ name: String) throws(ModelError) -> (start: Int, count: Int)? {
            guard let position = try target(index) else { return nil }
            let count = Int(try buffer.read(UInt32.self, at: position, "\(name) length"))
            let start = position + 4
            guard count <= (buffer.bytes.count - start) / max(1, elementSize) else {
                throw .malformed("\(name) claims \(count) elements but the model has room for fewer")
            }
            return (start, count)
        }

        /// A vector of scalars.
        func scalars<T: FixedWidthInteger>(_ index: Int, _: T.Type, _ name: String) throws(ModelError) -> [T] {
            guard let (start, count) = try vector(index, elementSize: MemoryLayout<T>.size, name) else { return [] }
            var result: [T] = []
            result.reserveCapacity(count)
            for i in 0..<count { result.append(try buffer.read(T.self, at: start + i * MemoryLayout<T>.size, name)) }
            return result
        }

        /// A vector of floats.
        func floats(_ index: Int, _ name: String) throws(ModelError) -> [Float] {
            try scalars(index, UInt32.self, name).map { Float(bitPattern: $0) }
        }

        /// A vector of tables.
        func tables(_ index: Int, _ name: String) throws(ModelError) -> [Table] {
            guard let (start, count) = try vector(index, elementSize: 4, name) else { return [] }
            var result: [Table] = []
            result.reserveCapacity(count)
            for i in 0..<count {
                let at = start + 4 * i
                let position = at + Int(try buffer.read(UInt32.self, at: at, "\(name)[\(i)] offset"))
                result.append(try Table(buffer: buffer, position: position, what: "\(name)[\(i)]"))
            }
            return result
        }

        /// A byte vector's range in the buffer (no copy).
        func byteRange(_ index: Int, _ name: String) throws(ModelError) -> Range<Int>? {
            guard let (start, count) = try vector(index, elementSize: 1, name) else { return nil }
            return start..<(start + count)
        }

        /// A string field (UTF-8, invalid sequences repaired).
        func string(_ index: Int, _ name: String) throws(ModelError) -> String? {
            guard let range = try byteRange(index, name) else { return nil }
            return String(decoding: buffer.bytes[range], as: UTF8.self)
        }
    }
}
