internal import CALSA
import Glibc

/// Process-wide ALSA set-up and the one helper that turns ALSA return codes into `AudioError`.
enum ALSA {
    /// Silences ALSA's stderr printer; evaluated once before the first ALSA call.
    static let prepared: Void = { _ = calsa_silence_errors() }()

    /// `snd_strerror` for a negative ALSA return code.
    static func describe(_ code: Int32) -> String { String(cString: snd_strerror(code)) }

    /// Maps a failed ALSA call on `device` to a typed error, listing the capture devices for "not found".
    static func error(_ code: Int32, function: String, device: String) -> AudioError {
        let cause = "\(function): \(describe(code))"
        switch -code {
        case ENOENT, ENODEV, ENXIO:
            let known = CaptureDevices.captureNames()
            let listing = known.isEmpty ? "none found" : known.joined(separator: ", ")
            return AudioError(.deviceNotFound, "Capture device \"\(device)\" does not exist. Capture devices here: \(listing).", cause: cause)
        case EBUSY:
            let known = CaptureDevices.captureNames()
            return AudioError(.deviceBusy, "Capture device \"\(device)\" is busy: another program is using it (try `fuser -v /dev/snd/*`), or use a dsnoop/pipewire/pulse PCM to share it. Capture devices here: \(known.isEmpty ? "none found" : known.joined(separator: ", ")).", cause: cause)
        case EACCES, EPERM:
            return AudioError(.devicePermissionDenied, "Permission denied opening \"\(device)\": add this user to the `audio` group.", cause: cause)
        case EINVAL:
            return AudioError(.deviceUnsupportedConfiguration, "Capture device \"\(device)\" rejected the requested settings.", cause: cause)
        default:
            return AudioError(.deviceFailed, "Capture device \"\(device)\" failed.", cause: cause)
        }
    }

    /// Runs an ALSA call, retrying on EINTR, and throws the mapped error on any other negative result.
    @discardableResult
    static func check<T: FixedWidthInteger>(_ function: String, device: String, _ call: () -> T) throws(AudioError) -> T {
        while true {
            let result = call()
            if result >= 0 { return result }
            let code = Int32(truncatingIfNeeded: result)
            if code == -EINTR { continue }
            throw error(code, function: function, device: device)
        }
    }
}
