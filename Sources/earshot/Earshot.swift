import ArgumentParser

/// The field technician's and integrator's command-line tool.
@main
struct Earshot: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "earshot",
        abstract: "Edge speech runtime: capture, inspect and recognise speech on the device.",
        discussion: """
        Exit codes: 0 success, 64 bad usage, 65 corrupt or truncated input, 66 input file missing, \
        69 capture device missing, 70 internal error, 73 cannot create output, 74 I/O error, \
        75 capture device busy, 77 permission denied, 79 unsupported format or operator, \
        80 model does not match its bundle's hash.
        """,
        version: "0.1.0",
        subcommands: [Devices.self, Record.self, Info.self, ModelCommand.self, Classify.self, Features.self, VAD.self, Transcribe.self, Run.self, Serve.self, Models.self, Config.self, SpoolCommand.self, Logs.self, Label.self, Review.self, Sync.self]
    )
}
