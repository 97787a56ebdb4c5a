/// How a multi-channel stream becomes the mono stream the pipeline hears.
public enum ChannelSelection: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The mean of all channels.
    case downmix
    /// One channel, counted from 0 (an array microphone's best capsule, say).
    case channel(Int)

    /// Parses `downmix`/`mix` or a channel number.
    public init?(parsing text: String) {
        if text == "downmix" || text == "mix" { self = .downmix; return }
        guard let index = Int(text), index >= 0 else { return nil }
        self = .channel(index)
    }

    public var description: String {
        switch self {
        case .downmix: "downmix"
        case .channel(let index): "channel \(index)"
        }
    }

    /// Checks that this selection makes sense for a stream of `channels` channels.
    public func validate(channels: Int) throws(AudioError) {
        if case .channel(let index) = self, index >= channels {
            throw AudioError(.invalidArgument, "Channel \(index) was selected but the stream has \(channels) channel(s) (0…\(channels - 1)).")
        }
    }

    /// Writes one mono sample per frame of `frames × channels` interleaved input into `output`.
    func mix(_ input: UnsafePointer<Float>, frames: Int, channels: Int, into output: UnsafeMutablePointer<Float>) {
        switch self {
        case .channel(let index):
            for f in 0..<frames { output[f] = input[f * channels + index] }
        case .downmix where channels == 1:
            output.update(from: input, count: frames)
        case .downmix:
            let scale = 1 / Float(channels)
            for f in 0..<frames {
                var sum: Float = 0
                for c in 0..<channels { sum += input[f * channels + c] }
                output[f] = sum * scale
            }
        }
    }
}
