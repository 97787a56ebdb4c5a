import Foundation

/// Level conversions. 0 dBFS is a full-scale square wave (sox and most meters), so a full-scale sine reads −3.01 dBFS.
public enum Decibels {
    /// The lowest level reported; digital silence reads this instead of −∞.
    public static let floor = -140.0

    /// 20·log10(amplitude), clamped at `floor`. `amplitude` is a fraction of full scale.
    public static func fromAmplitude(_ amplitude: Double) -> Double {
        amplitude > 0 ? max(Self.floor, 20 * log10(amplitude)) : Self.floor
    }

    /// 10·log10(power), clamped at `floor`. `power` is a mean square in full-scale units.
    public static func fromPower(_ power: Double) -> Double {
        power > 0 ? max(Self.floor, 10 * log10(power)) : Self.floor
    }
}
