internal import CALSA
import Glibc
import Foundation

/// One ALSA PCM that can be named as a capture device.
public struct CaptureDeviceInfo: Sendable, Hashable, Codable {
    /// The name to pass as `--device`.
    public var name: String
    /// ALSA's description, when it has one.
    public var description: String?
    /// Whether the PCM is known to capture: true, false, or nil when ALSA does not say.
    public var capture: Bool?
    /// Whether the PCM plays back.
    public var playback: Bool?
    /// True for the PCM that `default` resolves to (the entry named `default`).
    public var isDefault: Bool
    /// Where the entry came from: `hint` (ALSA name hints), `card` (a hardware device), or a configuration file path.
    public var source: String
}

/// A sound card and its capture devices.
public struct SoundCardInfo: Sendable, Hashable, Codable {
    public var index: Int
    public var id: String
    public var name: String
    public var longName: String
    /// `hw:N,D` names of the card's capture devices, with their names.
    public var captureDevices: [CaptureDeviceInfo]
}

/// Lists what can be captured from: ALSA name hints, sound cards and user-defined PCMs.
public enum CaptureDevices {
    /// All capture-capable PCMs and the cards, reading `configurationFile` as an extra source of PCM definitions.
    public static func list(configurationFile: String? = nil) -> (pcms: [CaptureDeviceInfo], cards: [SoundCardInfo]) {
        _ = ALSA.prepared
        var pcms = hintedPCMs()
        var seen = Set(pcms.map(\.name))
        let cards = soundCards()
        for card in cards {
            for device in card.captureDevices where !seen.contains(device.name) {
                pcms.append(device)
                seen.insert(device.name)
            }
        }
        for file in userConfigurationFiles(extra: configurationFile) {
            for name in definedPCMs(in: file) where !seen.contains(name) {
                pcms.append(CaptureDeviceInfo(name: name, description: nil, capture: nil, playback: nil,
                                              isDefault: name == "default", source: file))
                seen.insert(name)
            }
        }
        if !seen.contains("default") {
            pcms.insert(CaptureDeviceInfo(name: "default", description: "Default ALSA device", capture: nil, playback: nil,
                                          isDefault: true, source: "alsa.conf"), at: 0)
        }
        return (pcms.filter { $0.capture != false }, cards)
    }

    /// Names only, for error messages.
    public static func captureNames(configurationFile: String? = nil) -> [String] {
        list(configurationFile: configurationFile).pcms.map(\.name)
    }

    /// `snd_device_name_hint` over "pcm": what `arecord -L` shows.
    static func hintedPCMs() -> [CaptureDeviceInfo] {
        var hints: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        guard snd_device_name_hint(-1, "pcm", &hints) >= 0, let hints else { return [] }
        defer { snd_device_name_free_hint(hints) }
        var result: [CaptureDeviceInfo] = []
        var cursor = hints
        while let hint = cursor.pointee {
            defer { cursor += 1 }
            guard let name = takeHint(hint, "NAME") else { continue }
            let description = takeHint(hint, "DESC")?.replacingOccurrences(of: "\n", with: " — ")
            let direction = takeHint(hint, "IOID")   // nil means both directions
            result.append(CaptureDeviceInfo(name: name, description: description,
                                            capture: direction == nil || direction == "Input",
                                            playback: direction == nil || direction == "Output",
                                            isDefault: name == "default", source: "hint"))
        }
        return result
    }

    private static func takeHint(_ hint: UnsafeMutableRawPointer, _ key: String) -> String? {
        guard let value = snd_device_name_get_hint(hint, key) else { return nil }
        defer { free(value) }
        return String(cString: value)
    }

    /// Every card (`snd_card_next`) and its capture devices (`snd_ctl_pcm_next_device`), like `arecord -l`.
    static func soundCards() -> [SoundCardInfo] {
        var cards: [SoundCardInfo] = []
        var index: Int32 = -1
        while snd_card_next(&index) >= 0 && index >= 0 {
            var control: OpaquePointer?
            guard snd_ctl_open(&control, "hw:\(index)", 0) >= 0, let control else { continue }
            defer { snd_ctl_close(control) }
            var info: OpaquePointer?
            guard snd_ctl_card_info_malloc(&info) >= 0, let info else { continue }
            defer { snd_ctl_card_info_free(info) }
            guard snd_ctl_card_info(control, info) >= 0 else { continue }
            var card = SoundCardInfo(index: Int(index), id: String(cString: snd_ctl_card_info_get_id(info)),
                                     name: String(cString: snd_ctl_card_info_get_name(info)),
                                     longName: String(cString: snd_ctl_card_info_get_longname(info)), captureDevices: [])
            var pcmInfo: OpaquePointer?
            guard snd_pcm_info_malloc(&pcmInfo) >= 0, let pcmInfo else { cards.append(card); continue }
            defer { snd_pcm_info_free(pcmInfo) }
            var device: Int32 = -1
            while snd_ctl_pcm_next_device(control, &device) >= 0 && device >= 0 {
                snd_pcm_info_set_device(pcmInfo, UInt32(device))
                snd_pcm_info_set_subdevice(pcmInfo, 0)
                snd_pcm_info_set_stream(pcmInfo, SND_PCM_STREAM_CAPTURE)
                guard snd_ctl_pcm_info(control, pcmInfo) >= 0 else { continue }
                card.captureDevices.append(CaptureDeviceInfo(
                    name: "hw:\(index),\(device)",
                    description: "\(card.name): \(String(cString: snd_pcm_info_get_name(pcmInfo)))",
                    capture: true, playback: nil, isDefault: false, source: "card"))
            }
            cards.append(card)
        }
        return cards
    }

    /// The files where users define their own PCMs, in ALSA's order, that exist.
    static func userConfigurationFiles(extra: String?) -> [String] {
        let environment = ProcessInfo.processInfo.environment
        var files = ["/etc/asound.conf"]
        if let home = environment["HOME"] {
            files.append(home + "/.asoundrc")
            files.append((environment["XDG_CONFIG_HOME"] ?? home + "/.config") + "/alsa/asoundrc")
        }
        if let path = environment["ALSA_CONFIG_PATH"] {
            files += path.split(separator: ":").map(String.init).filter { !$0.hasPrefix("/usr/share/alsa/") }
        }
        if let extra { files.append(extra) }
        return files.filter { FileManager.default.isReadableFile(atPath: $0) }
    }

    /// Top-level `pcm.NAME` keys of one configuration file, parsed by ALSA itself (`snd_config_load`).
    static func definedPCMs(in file: String) -> [String] {
        var top: OpaquePointer?
        guard snd_config_top(&top) >= 0, let top else { return [] }
        defer { snd_config_delete(top) }
        var input: OpaquePointer?
        guard snd_input_stdio_open(&input, file, "r") >= 0, let input else { return [] }
        let loaded = snd_config_load(top, input)
        snd_input_close(input)
        guard loaded >= 0 else { return [] }
        var pcmNode: OpaquePointer?
        guard snd_config_search(top, "pcm", &pcmNode) >= 0, let pcmNode else { return [] }
        var names: [String] = []
        var iterator = snd_config_iterator_first(pcmNode)
        let end = snd_config_iterator_end(pcmNode)
        while iterator != end {
            if let entry = snd_config_iterator_entry(iterator) {
                var id: UnsafePointer<CChar>?
                if snd_config_get_id(entry, &id) >= 0, let id { names.append(String(cString: id)) }
            }
            iterator = snd_config_iterator_next(iterator)
        }
        return names
    }
}
