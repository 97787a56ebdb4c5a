import Foundation
import ArgumentParser

/// Options every command that touches ALSA shares.
struct ALSAOptions: ParsableArguments {
    @Option(name: .customLong("alsa-config"),
            help: ArgumentHelp("An extra ALSA configuration file that defines PCMs (default: $EARSHOT_ALSA_CONFIG).", valueName: "file"))
    var configurationFile: String?

    /// The file from the flag, else from the environment.
    var resolvedConfigurationFile: String? {
        configurationFile ?? ProcessInfo.processInfo.environment["EARSHOT_ALSA_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
    }
}
