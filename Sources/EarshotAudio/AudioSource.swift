/// Something that yields interleaved float frames at a fixed rate: a sound file or a raw stream.
public protocol FrameReader: AnyObject {
    var sampleRate: Int { get }
    var channels: Int { get }
    /// Reads up to `frames` interleaved frames; 0 at the end.
    func read(into buffer: UnsafeMutablePointer<Float>, frames: Int) throws(AudioError) -> Int
}

extension AudioFileReader: FrameReader {
    public var sampleRate: Int { info.sampleRate }
    public var channels: Int { info.channels }
}

extension RawPCMReader: FrameReader {
    public var sampleRate: Int { format.sampleRate }
    public var channels: Int { format.channels }
}

/// A source of the pipeline's audio, 16 kHz mono `Int16`, whatever the input was.
public protocol PipelineAudioSource: AnyObject {
    /// Appends up to about `maximum` samples to `output`.
    /// - Returns: false once the source has ended and everything was delivered.
    func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool
    /// Audio lost so far before it reached the pipeline: device overruns recovered, and samples overwritten because
    /// the reader fell behind. Zero for sources that cannot lose audio (files, memory).
    var losses: (overruns: Int, droppedSamples: UInt64) { get }
}

extension PipelineAudioSource {
    public var losses: (overruns: Int, droppedSamples: UInt64) { (0, 0) }
}

/// Adapts a file or raw stream to the pipeline format (channel selection, resampling, 16-bit rounding).
public final class ConvertingSource: PipelineAudioSource {
    private let reader: any FrameReader
    private let converter: StreamConverter
    private var buffer: [Float]
    private var finished = false

    public init(_ reader: any FrameReader, selection: ChannelSelection = .downmix, quality: ResamplerQuality = .medium) throws(AudioError) {
        self.reader = reader
        self.converter = try StreamConverter(inputRate: reader.sampleRate, channels: reader.channels, selection: selection, quality: quality)
        self.buffer = []
    }

    public func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool {
        guard !finished else { return false }
        let frames = max(1, maximum * reader.sampleRate / StreamConverter.pipelineRate)
        if buffer.count < frames * reader.channels { buffer = [Float](repeating: 0, count: frames * reader.channels) }
        let got = try buffer.withUnsafeMutableBufferPointer { (pointer) throws(AudioError) -> Int in
            try reader.read(into: pointer.baseAddress!, frames: frames)
        }
        if got == 0 {
            try converter.finish(appendingTo: &output)
            finished = true
            return true
        }
        try buffer.withUnsafeBufferPointer { (pointer) throws(AudioError) in
            try converter.convert(pointer.baseAddress!, frames: got, appendingTo: &output)
        }
        return true
    }
}

/// Adapts live capture to the pipeline-source interface.
public final class CaptureSource: PipelineAudioSource {
    public let session: CaptureSession
    private var scratch = [Int16](repeating: 0, count: 4_096)

    public init(_ session: CaptureSession) { self.session = session }

    public var losses: (overruns: Int, droppedSamples: UInt64) {
        let s = session.statistics
        return (s.deviceOverruns, s.ringOverrunSamples)
    }

    public func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool {
        if scratch.count < maximum { scratch = [Int16](repeating: 0, count: maximum) }
        let got = try scratch.withUnsafeMutableBufferPointer { (pointer) throws(AudioError) -> Int? in
            try session.ring.read(into: UnsafeMutableBufferPointer(rebasing: pointer[0..<maximum]), timeout: 0.5)
        }
        guard let got else { return false }
        output.append(contentsOf: scratch[0..<got])
        return true
    }
}

/// Samples already in memory, delivered in chunks as a stream would be (replays, tests, recorded utterances).
public final class SampleArraySource: PipelineAudioSource {
    private let samples: [Int16]
    private var position = 0

    public init(_ samples: [Int16]) { self.samples = samples }

    public func read(appendingTo output: inout [Int16], maximum: Int) throws(AudioError) -> Bool {
        guard position < samples.count else { return false }
        let end = min(samples.count, position + max(1, maximum))
        output.append(contentsOf: samples[position..<end])
        position = end
        return true
    }
}
