#if canImport(EarshotInference)
import EarshotInference
#endif

/// libFuzzer entry: parse arbitrary bytes as a model, prepare it, and run it once. Any crash, trap or
/// out-of-bounds access (AddressSanitizer) is a bug; typed errors are the expected outcome for bad input.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    guard let model = try? Model(bytes: bytes, label: "fuzz"),
          let interpreter = try? Interpreter(model: model) else { return 0 }
    try? interpreter.invoke()
    return 0
}
