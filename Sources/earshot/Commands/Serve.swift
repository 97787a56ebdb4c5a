import ArgumentParser
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotServer
import EarshotSphinx
import EarshotVAD
import Foundation

extension Earshot {
    /// `earshot serve`: the OpenAI-compatible transcription API over a local model, so a bigger box can be the
    /// "cloud" of smaller ones and integrators get a standard endpoint.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve POST /v1/audio/transcriptions, GET /healthz and GET /metrics from a local model.",
            discussion: """
            The request is OpenAI's: multipart/form-data with file (any format libsndfile reads, resampled to \
            16 kHz), model, language, prompt, response_format (json, text or verbose_json) and temperature. The \
            VAD finds the utterances and the model reads each; verbose_json gives segments (with Earshot's label, \
            confidence and top_k) and words with probabilities. /metrics is Prometheus text. When the port is \
            bound, one line on stderr says where: "earshot serve: listening on http://HOST:PORT …". With --token \
            (or $EARSHOT_SERVE_TOKEN) the /v1 routes require "Authorization: Bearer TOKEN". SIGINT or SIGTERM \
            stops it cleanly.

            PocketSphinx (Debian's pocketsphinx-en-us, trained on real speech) can be served beside Earshot's models \
            as a stronger teacher: --pocketsphinx adds dictation (model=pocketsphinx), --pocketsphinx-grammar FILE \
            adds grammar mode (model=pocketsphinx:GRAMMAR-NAME), --pocketsphinx-commands a grammar of the served \
            command model's labels (model=pocketsphinx:commands). It always answers with some sentence of its \
            grammar: it cannot reject speech outside it.
            """)

        @Option(help: "Port to listen on (0: any free port, reported on stderr).") var port = 8080
        @Option(help: "Address to listen on.") var host = "127.0.0.1"
        @Option(help: ArgumentHelp("A recognition bundle to serve; repeat to serve several, chosen per request by the form's model field (default: the shipped command-en, or phrase-en with --grammar). The first answers unknown model names.", valueName: "bundle"))
        var model: [String] = []
        @Option(help: ArgumentHelp("A JSGF grammar for a phrase model.", valueName: "file.gram")) var grammar: String?
        @Option(help: ArgumentHelp("The VAD bundle (default: the shipped earshot-vad-en).", valueName: "bundle")) var vad: String?
        @Option(help: "Largest upload accepted, in MB.") var maxUploadMb = 25
        @Option(help: "Longest audio accepted, in seconds.") var maxSeconds = 600.0
        @Option(help: ArgumentHelp("Bearer token required on /v1 (default: $EARSHOT_SERVE_TOKEN; none: open).", valueName: "token")) var token: String?
        @Flag(help: "Also serve PocketSphinx dictation (model=pocketsphinx).") var pocketsphinx = false
        @Option(help: ArgumentHelp("Also serve PocketSphinx through this JSGF grammar (model=pocketsphinx:NAME); repeatable.", valueName: "file.gram"))
        var pocketsphinxGrammar: [String] = []
        @Flag(help: "Also serve PocketSphinx through a grammar of the command model's labels (model=pocketsphinx:commands).") var pocketsphinxCommands = false
        @Option(help: ArgumentHelp("PocketSphinx's model directory.", valueName: "dir")) var pocketsphinxModel = PocketSphinxTranscriber.defaultModelDirectory
        @Flag(help: "Make the first PocketSphinx engine answer requests whose model names none (instead of the first bundle).") var pocketsphinxDefault = false

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be within 0…65535.") }
            guard (1...1_024).contains(maxUploadMb), maxSeconds > 0 else { throw ValidationError("--max-upload-mb must be within 1…1024 and --max-seconds positive.") }
        }

        func run() async throws {
            var services: [any Transcriber] = try reportingErrors { () throws -> [TranscriptionService] in
                var services: [TranscriptionService] = []
                for bundle in model.isEmpty ? [nil] : model.map(Optional.some) {
                    let (modelDirectory, vadDirectory) = try ModelLocator.recognitionAndVAD(model: bundle, grammar: grammar, vad: vad)
                    let loaded = try ModelBundle(directory: modelDirectory)
                    // The grammar goes with phrase models only, so one serve can host a command and a phrase model.
                    let graph = try grammar.flatMap { (path) throws -> WordGraph? in
                        loaded.manifest.kind == "phrase" ? try WordGraph(grammar: JSGFGrammar(contentsOfFile: path)) : nil
                    }
                    services.append(TranscriptionService(recognizer: try LocalRecognizer(bundle: loaded, grammar: graph),
                                                         detector: try VoiceActivityDetector(bundle: vadDirectory)))
                }
                if grammar != nil && !services.contains(where: { $0.recognizer.manifest.kind == "phrase" }) {
                    throw RecognizerError(.input, "A grammar needs a phrase model; none of the models served is one.")
                }
                return services
            }
            var engines: [any Transcriber] = []
            do {
                if pocketsphinx { engines.append(try PocketSphinxTranscriber(mode: .dictation, modelDirectory: pocketsphinxModel)) }
                for path in pocketsphinxGrammar {
                    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SphinxError("cannot read the grammar \(path)") }
                    let name = text.firstMatch(of: /grammar\s+([A-Za-z0-9_.\-]+)\s*;/).map { String($0.1) } ?? ((path as NSString).lastPathComponent as NSString).deletingPathExtension
                    engines.append(try PocketSphinxTranscriber(mode: .grammar(name: name, jsgf: text), modelDirectory: pocketsphinxModel))
                }
                if pocketsphinxCommands {
                    guard let command = services.compactMap({ $0 as? TranscriptionService }).first(where: { $0.kind == "command" }) else {
                        throw SphinxError("--pocketsphinx-commands needs a command model among those served")
                    }
                    let grammar = PocketSphinxTranscriber.commandGrammar(labels: command.recognizer.manifest.labels)
                    engines.append(try PocketSphinxTranscriber(mode: .grammar(name: "commands", jsgf: grammar), modelDirectory: pocketsphinxModel))
                }
            } catch let error as SphinxError {
                throw fail(error.message, error.message.contains("missing") || error.message.contains("cannot read") ? .inputMissing : .corruptInput)
            }
            services = pocketsphinxDefault ? engines + services : services + engines
            var configuration = ServeConfiguration()
            configuration.host = host
            configuration.port = port
            configuration.maximumUploadBytes = maxUploadMb * 1_024 * 1_024
            configuration.maximumSeconds = maxSeconds
            configuration.token = token ?? ProcessInfo.processInfo.environment["EARSHOT_SERVE_TOKEN"]
            let endpoint = TranscriptionEndpoint(services: services, configuration: configuration)
            let address = host, served = services.map(\.model).joined(separator: ", ")
            do {
                try await endpoint.run { port in
                    FileHandle.standardError.write(Data("earshot serve: listening on http://\(address):\(port) (model \(served))\n".utf8))
                }
            } catch {
                throw fail("cannot serve on \(host):\(port): \(error)", .ioError)
            }
        }
    }
}
