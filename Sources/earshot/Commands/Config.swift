import ArgumentParser
import EarshotConfig
import Foundation

extension Earshot {
    /// `earshot config check`: read a config file the way `earshot run` would and explain every problem with its line.
    struct Config: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Check configuration files.", subcommands: [Check.self])

        struct Check: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Check a YAML config file (and the EARSHOT_* environment over it); print the settings or every problem.",
                discussion: """
                Each problem is printed as FILE:LINE:COLUMN: message on stderr (environment problems name the \
                variable). Exit 0 when the file is usable (the merged settings are printed as JSON), 65 when it \
                has problems, 66 when it cannot be read. Keys: \(RuntimeSettings.keys.joined(separator: ", ")).
                """)
            @Argument(help: ArgumentHelp("The YAML file.", valueName: "file")) var path: String

            func run() throws {
                let file: RuntimeSettings
                do { file = try ConfigFile.load(path: path) } catch {
                    FileHandle.standardError.write(Data((error.description + "\n").utf8))
                    throw ExitCode(error.unreadable ? ExitStatus.inputMissing.rawValue : ExitStatus.corruptInput.rawValue)
                }
                let (environment, environmentProblems) = RuntimeSettings.fromEnvironment(ProcessInfo.processInfo.environment)
                let merged = file.overlaid(by: environment)
                let problems = environmentProblems + merged.problems()
                guard problems.isEmpty else {
                    FileHandle.standardError.write(Data((problems.joined(separator: "\n") + "\n").utf8))
                    throw ExitCode(ExitStatus.corruptInput.rawValue)
                }
                var shown = merged
                if shown.cloudToken != nil { shown.cloudToken = "(set)" }    // never echo a secret
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(shown), as: UTF8.self))
            }
        }
    }
}
