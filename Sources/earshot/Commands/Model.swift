import ArgumentParser
import EarshotInference
import Foundation

extension Earshot {
    /// `earshot model …`: look inside models.
    struct ModelCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "model", abstract: "Inspect TFLite models.",
                                                        subcommands: [Inspect.self])
    }
}

extension Earshot.ModelCommand {
    /// `earshot model inspect FILE.tflite`: operators, tensors, quantisation, arena bytes and MACs.
    struct Inspect: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a model's operators, tensors, quantisation, memory plan and multiply-accumulates per invoke.",
            discussion: "Loading prepares every operator, so an unsupported operator or malformed file fails here with its name.")

        @Argument(help: ArgumentHelp("A .tflite file or a bundle directory.", valueName: "model")) var path: String
        @Flag(help: "Print one JSON object.") var json = false

        func run() throws {
            try reportingErrors {
                let model = try ModelSource.load(path)
                let summary = ModelSummary(try Interpreter(model: model))
                print(json ? Output.json(summary) : Self.text(summary))
            }
        }

        static func text(_ s: ModelSummary) -> String {
            func describe(_ t: ModelSummary.TensorEntry) -> String {
                var q = ""
                if t.scales.count == 1 { q = " scale \(t.scales[0]) zp \(t.zeroPoints.first ?? 0)" }
                else if t.scales.count > 1 { q = " per-channel (\(t.scales.count) scales, axis \(t.quantizedDimension))" }
                return "\(t.type)\(t.shape)\(q)"
            }
            var lines = ["Model:     \(s.model) (schema v\(s.version))\(s.description.map { " — \($0)" } ?? "")"]
            lines += s.inputs.map { "Input:     \($0.name) \(describe($0))" }
            lines += s.outputs.map { "Output:    \($0.name) \(describe($0))" }
            lines.append("Arena:     \(s.arenaBytes) bytes activations, \(s.constantBytes) bytes constants, \(s.variableBytes) bytes variables")
            lines.append("Compute:   \(s.macs) multiply-accumulates per invoke")
            lines.append("Operators:")
            for op in s.operators {
                let outs = op.outputs.map { i in s.tensors.first { $0.subgraph == op.subgraph && $0.index == i }.map { "\($0.type)\($0.shape)" } ?? "?" }
                let prefix = op.subgraph == 0 ? "   " : "s\(op.subgraph) "
                let index = String(repeating: " ", count: max(0, 3 - String(op.index).count)) + String(op.index)
                let name = op.op.padding(toLength: max(20, op.op.count), withPad: " ", startingAt: 0)
                lines.append("  \(prefix)\(index) \(name) → \(outs.joined(separator: ", "))\(op.macs > 0 ? "  (\(op.macs) MACs)" : "")")
            }
            return lines.joined(separator: "\n")
        }
    }
}
