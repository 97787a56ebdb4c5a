/// Statistics of a recogniser's inputs and outputs over a set of utterances: what the training-time baseline in a
/// bundle's manifest holds, and what a device computes over a window of live traffic so drift can be measured
/// against it. The definitions match the recipes' Python exactly (Models/command/recipe/train.py `baseline`).
public struct RecognitionBaseline: Sendable, Codable, Equatable {
    /// What the statistics were computed over, in words.
    public var source: String?
    public var clips: Int
    /// Mean int8 model input per frontend channel, over every frame of every clip.
    public var featureChannelMean: [Double]
    /// Counts of top-label confidence in ten bins: bin k holds confidences in [k/10, (k+1)/10), the last bin 1.0 too.
    public var confidenceHistogram: [Int]
    /// Share of clips whose top label is each label, in label order.
    public var topLabelShare: [Double]

    enum CodingKeys: String, CodingKey {
        case source, clips, featureChannelMean = "feature_channel_mean", confidenceHistogram = "confidence_histogram"
        case topLabelShare = "top_label_share"
    }

    public init(clips: Int, featureChannelMean: [Double], confidenceHistogram: [Int], topLabelShare: [Double]) {
        self.clips = clips; self.featureChannelMean = featureChannelMean
        self.confidenceHistogram = confidenceHistogram; self.topLabelShare = topLabelShare
    }

    /// Accumulates clips one at a time (features as the model saw them, and its calibrated probabilities).
    public struct Accumulator: Sendable {
        var channelSums: [Int64]
        var frames = 0
        var histogram = [Int](repeating: 0, count: 10)
        var topCounts: [Int]
        var clips = 0

        public init(channels: Int, labels: Int) {
            channelSums = [Int64](repeating: 0, count: channels)
            topCounts = [Int](repeating: 0, count: labels)
        }

        /// `features`: frames × channels int8 inputs; `probabilities`: one per label.
        public mutating func add(features: [[Int8]], probabilities: [Double]) {
            for frame in features {
                for (c, v) in frame.enumerated() where c < channelSums.count { channelSums[c] += Int64(v) }
                frames += 1
            }
            if let top = probabilities.indices.max(by: { probabilities[$0] < probabilities[$1] }), top < topCounts.count {
                topCounts[top] += 1
                histogram[min(9, Int(probabilities[top] * 10))] += 1
            }
            clips += 1
        }

        /// The statistics, means rounded to 6 decimals as the manifests store them.
        public var baseline: RecognitionBaseline {
            func round6(_ v: Double) -> Double { (v * 1_000_000).rounded() / 1_000_000 }
            return RecognitionBaseline(
                clips: clips,
                featureChannelMean: channelSums.map { frames > 0 ? round6(Double($0) / Double(frames)) : 0 },
                confidenceHistogram: histogram,
                topLabelShare: topCounts.map { clips > 0 ? round6(Double($0) / Double(clips)) : 0 })
        }
    }
}
