import ArgumentParser
import EarshotBundles
import EarshotEdge
import EarshotRecognizer
import EarshotServer
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

        func validate() throws {
            guard (0...65_535).contains(port) else { throw ValidationError("--port must be within 0…65535.") }
            guard (1...1_024).contains(maxUploadMb), maxSeconds > 0 else { throw ValidationError("--max-upload-mb must be within 1…1024 and --max-seconds positive.") }
        }

        func run() async throws {
            let services = try reportingErrors { () throws -> [TranscriptionService] in
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
