import Foundation

/// What a full ring does with new samples.
public enum RingOverflowPolicy: String, Sendable, Hashable, Codable {
    /// Overwrite the oldest unread samples and count them: live pipelines stay fresh and never stall capture.
    case dropOldest
    /// Wait for the consumer to make room: nothing is lost in the ring (recordings, and PCMs faster than real time
    /// such as `file`/`null`). On a real device a stalled consumer then shows up as device overruns instead.
    case block
}

/// A bounded single-producer ring of 16 kHz mono samples between the capture thread and its consumer.
///
/// With `.dropOldest` the producer never blocks: when the consumer falls behind, the oldest samples are
/// overwritten and counted in `overrunSamples`, so the consumer always gets the freshest audio and the loss is visible.
public final class SampleRing: @unchecked Sendable {   // @unchecked: all state is guarded by `condition`
    private let condition = NSCondition()
    private var storage: [Int16]
    private var readIndex = 0
    private var count = 0
    private var closed = false
    private var closeError: AudioError?
    private var dropped: UInt64 = 0
    private var written: UInt64 = 0

    /// What a write into a full ring does.
    public let policy: RingOverflowPolicy

    /// Creates a ring holding at most `capacity` samples (≥ 1).
    public init(capacity: Int, policy: RingOverflowPolicy = .dropOldest) {
        precondition(capacity > 0, "ring capacity must be positive")
        storage = [Int16](repeating: 0, count: capacity)
        self.policy = policy
    }

    /// The most samples the ring holds.
    public var capacity: Int { storage.count }

    /// Samples lost because the consumer fell behind, since creation.
    public var overrunSamples: UInt64 { condition.withLock { dropped } }

    /// Samples ever written, including those later overwritten.
    public var writtenSamples: UInt64 { condition.withLock { written } }

    /// Samples waiting to be read.
    public var availableSamples: Int { condition.withLock { count } }

    /// Appends samples. A full ring overwrites the oldest unread ones (`.dropOldest`) or waits for room (`.block`).
    /// Samples written after `close()` are discarded.
    public func write(_ samples: UnsafeBufferPointer<Int16>) {
        guard !samples.isEmpty else { return }
        if policy == .block {
            var offset = 0
            while offset < samples.count {
                let stored: Int = condition.withLock {
                    while count == storage.count && !closed { condition.wait() }
                    guard !closed else { return samples.count - offset }
                    let n = min(samples.count - offset, storage.count - count)
                    store(UnsafeBufferPointer(rebasing: samples[offset..<(offset + n)]))
                    return n
                }
                offset += stored
            }
            return
        }
        condition.withLock {
            guard !closed else { return }
            let capacity = storage.count
            // If more arrives than fits, only the newest `capacity` samples can survive.
            var source = samples
            if source.count > capacity {
                dropped += UInt64(source.count - capacity)
                written += UInt64(source.count - capacity)
                source = UnsafeBufferPointer(rebasing: source[(source.count - capacity)...])
            }
            let overflow = count + source.count - capacity
            if overflow > 0 {
                dropped += UInt64(overflow)
                readIndex = (readIndex + overflow) % capacity
                count -= overflow
            }
            store(source)
        }
    }

    /// Copies samples into free space (the caller holds the lock and made room), then wakes the reader.
    private func store(_ source: UnsafeBufferPointer<Int16>) {
        written += UInt64(source.count)
        let capacity = storage.count
        var writeIndex = (readIndex + count) % capacity
        storage.withUnsafeMutableBufferPointer { ring in
            var offset = 0
            while offset < source.count {
                let chunk = min(source.count - offset, capacity - writeIndex)
                (ring.baseAddress! + writeIndex).update(from: source.baseAddress! + offset, count: chunk)
                offset += chunk
                writeIndex = (writeIndex + chunk) % capacity
            }
        }
        count += source.count
        condition.broadcast()
    }

    /// Marks the end of the stream; readers drain what is left, then see the end (or `error`).
    public func close(error: AudioError? = nil) {
        condition.withLock {
            closed = true
            if closeError == nil { closeError = error }
            condition.broadcast()
        }
    }

    /// Blocks until at least one sample is available, the ring is closed, or `timeout` seconds pass;
    /// then copies up to `output.count` samples out.
    ///
    /// - Returns: the number of samples copied; 0 on timeout, or `nil` once the ring is closed and drained.
    /// - Throws: the error the producer closed the ring with, after the remaining samples are drained.
    public func read(into output: UnsafeMutableBufferPointer<Int16>, timeout: Double = .infinity) throws(AudioError) -> Int? {
        let result: Result<Int?, AudioError> = condition.withLock {
            let deadline = timeout.isFinite ? Date(timeIntervalSinceNow: timeout) : Date.distantFuture
            while count == 0 && !closed {
                if !condition.wait(until: deadline) { return .success(0) }
            }
            if count == 0 {
                if let closeError { return .failure(closeError) }
                return .success(nil)
            }
            let capacity = storage.count
            let n = min(output.count, count)
            storage.withUnsafeBufferPointer { ring in
                var copied = 0
                while copied < n {
                    let chunk = min(n - copied, capacity - readIndex)
                    (output.baseAddress! + copied).update(from: ring.baseAddress! + readIndex, count: chunk)
                    copied += chunk
                    readIndex = (readIndex + chunk) % capacity
                }
            }
            count -= n
            condition.broadcast()   // a blocked writer may proceed
            return .success(n)
        }
        return try result.get()
    }
}
