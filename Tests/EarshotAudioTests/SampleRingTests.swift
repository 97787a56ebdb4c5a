import EarshotAudio
import Foundation
import Testing

@Suite("SampleRing")
struct SampleRingTests {
    static func drain(_ ring: SampleRing, chunk: Int = 7) throws -> [Int16] {
        var out: [Int16] = []
        var buffer = [Int16](repeating: 0, count: chunk)
        while let got = try buffer.withUnsafeMutableBufferPointer({ try ring.read(into: $0, timeout: 1) }), got > 0 {
            out += buffer[0..<got]
        }
        return out
    }

    @Test func wrapsAroundPreservingOrder() throws {
        let ring = SampleRing(capacity: 10)
        var expected: [Int16] = []
        for round in 0..<20 {
            let block = (0..<6).map { Int16(round * 6 + $0) }
            block.withUnsafeBufferPointer { ring.write($0) }
            expected += block
            var buffer = [Int16](repeating: 0, count: 6)
            let got = try buffer.withUnsafeMutableBufferPointer { try ring.read(into: $0) }
            #expect(got == 6)
            #expect(Array(buffer) == block)
        }
        #expect(ring.overrunSamples == 0)
        #expect(ring.writtenSamples == UInt64(expected.count))
    }

    @Test func overflowDropsOldestAndCounts() throws {
        let ring = SampleRing(capacity: 8)
        let first = (0..<6).map(Int16.init), second = (6..<12).map(Int16.init)
        first.withUnsafeBufferPointer { ring.write($0) }
        second.withUnsafeBufferPointer { ring.write($0) }
        ring.close()
        #expect(try Self.drain(ring) == (4..<12).map(Int16.init))
        #expect(ring.overrunSamples == 4)
    }

    @Test func aWriteLargerThanTheRingKeepsItsNewestPart() throws {
        let ring = SampleRing(capacity: 5)
        let block = (0..<12).map(Int16.init)
        block.withUnsafeBufferPointer { ring.write($0) }
        ring.close()
        #expect(try Self.drain(ring) == (7..<12).map(Int16.init))
        #expect(ring.overrunSamples == 7)
    }

    @Test func readTimesOutWithZeroAndEndsWithNilAfterClose() throws {
        let ring = SampleRing(capacity: 4)
        var buffer = [Int16](repeating: 0, count: 4)
        #expect(try buffer.withUnsafeMutableBufferPointer { try ring.read(into: $0, timeout: 0.01) } == 0)
        ring.close()
        #expect(try buffer.withUnsafeMutableBufferPointer { try ring.read(into: $0, timeout: 0.01) } == nil)
    }

    @Test func closingWithAnErrorDeliversDataFirstThenTheError() throws {
        let ring = SampleRing(capacity: 4)
        [Int16(1), 2].withUnsafeBufferPointer { ring.write($0) }
        ring.close(error: AudioError(.deviceFailed, "unplugged"))
        var buffer = [Int16](repeating: 0, count: 4)
        #expect(try buffer.withUnsafeMutableBufferPointer { try ring.read(into: $0) } == 2)
        #expect(throws: AudioError.self) { _ = try buffer.withUnsafeMutableBufferPointer { try ring.read(into: $0) } }
    }

    @Test func producerAndConsumerOnTwoThreadsLoseNothingWhenTheConsumerKeepsUp() throws {
        let ring = SampleRing(capacity: 64_000)
        let total = 200_000
        let producer = Thread {
            var next = 0
            while next < total {
                let block = (next..<min(total, next + 333)).map { Int16(truncatingIfNeeded: $0) }
                block.withUnsafeBufferPointer { ring.write($0) }
                next += block.count
            }
            ring.close()
        }
        producer.start()
        let received = try Self.drain(ring, chunk: 1_000)
        #expect(received.count == total - Int(ring.overrunSamples))
        if ring.overrunSamples == 0 {
            #expect(received == (0..<total).map { Int16(truncatingIfNeeded: $0) })
        }
    }
}

@Suite("SampleRing blocking policy")
struct SampleRingBlockingTests {
    @Test func aFullBlockingRingWaitsForTheReaderAndLosesNothing() throws {
        let ring = SampleRing(capacity: 100, policy: .block)
        let total = 50_000
        let producer = Thread {
            var next = 0
            while next < total {
                let block = (next..<min(total, next + 77)).map { Int16(truncatingIfNeeded: $0) }
                block.withUnsafeBufferPointer { ring.write($0) }
                next += block.count
            }
            ring.close()
        }
        producer.start()
        var received: [Int16] = []
        var buffer = [Int16](repeating: 0, count: 33)
        while let got = try buffer.withUnsafeMutableBufferPointer({ try ring.read(into: $0, timeout: 5) }) {
            received += buffer[0..<got]
        }
        #expect(ring.overrunSamples == 0)
        #expect(received == (0..<total).map { Int16(truncatingIfNeeded: $0) })
    }

    @Test func closingReleasesABlockedWriter() throws {
        let ring = SampleRing(capacity: 4, policy: .block)
        let done = DispatchSemaphore(value: 0)
        let producer = Thread {
            [Int16](repeating: 1, count: 10).withUnsafeBufferPointer { ring.write($0) }   // blocks after 4
            done.signal()
        }
        producer.start()
        #expect(done.wait(timeout: .now() + 0.2) == .timedOut)
        ring.close()
        #expect(done.wait(timeout: .now() + 5) == .success)
    }
}
