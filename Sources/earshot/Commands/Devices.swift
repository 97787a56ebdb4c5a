import Foundation
import ArgumentParser
import EarshotAudio

extension Earshot {
    /// `earshot devices`: what can be captured from.
    struct Devices: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List capture PCMs and sound cards; the default is marked with *.")

        @OptionGroup var alsa: ALSAOptions
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            let (pcms, cards) = CaptureDevices.list(configurationFile: alsa.resolvedConfigurationFile)
            if json {
                print(Output.json(DevicesReport(default: pcms.first(where: \.isDefault)?.name ?? "default", pcms: pcms, cards: cards)))
                return
            }
            print("Capture PCMs (use the name with --device):")
            let width = min(32, pcms.map(\.name.count).max() ?? 0)
            for pcm in pcms {
                let marker = pcm.isDefault ? "*" : " "
                let padded = pcm.name.padding(toLength: max(width, pcm.name.count), withPad: " ", startingAt: 0)
                var detail = pcm.description ?? ""
                if pcm.source != "hint" && pcm.source != "card" && pcm.source != "alsa.conf" { detail += (detail.isEmpty ? "" : " ") + "(defined in \(pcm.source))" }
                print("\(marker) \(padded)  \(detail)")
            }
            print("")
            if cards.isEmpty {
                print("Sound cards: none (no /dev/snd devices visible).")
            } else {
                print("Sound cards:")
                for card in cards {
                    print("  \(card.index) [\(card.id)] \(card.longName)")
                    for device in card.captureDevices { print("      \(device.name)  \(device.description ?? "")") }
                }
            }
        }
    }
}

/// The JSON shape of `earshot devices --json`.
struct DevicesReport: Encodable {
    var `default`: String
    var pcms: [CaptureDeviceInfo]
    var cards: [SoundCardInfo]
}
