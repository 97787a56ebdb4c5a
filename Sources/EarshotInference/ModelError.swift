/// Why a model could not be loaded or run. Every case carries a message for people naming the model and the part.
public struct ModelError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Storage: String, Sendable { case malformed, unsupportedOperator, unsupportedType, invalidModel, invalidInput, io }
        let storage: Storage
        /// The bytes are not a well-formed TFLite flatbuffer (bad offset, length, index or identifier).
        public static var malformed: Self { .init(storage: .malformed) }
        /// The model uses an operator (or operator variant) Earshot does not implement.
        public static var unsupportedOperator: Self { .init(storage: .unsupportedOperator) }
        /// The model uses a tensor type an operator does not accept.
        public static var unsupportedType: Self { .init(storage: .unsupportedType) }
        /// The flatbuffer is well-formed but describes an impossible graph (shapes, quantisation, sizes).
        public static var invalidModel: Self { .init(storage: .invalidModel) }
        /// A caller passed input of the wrong size or type.
        public static var invalidInput: Self { .init(storage: .invalidInput) }
        /// Reading the model file failed.
        public static var io: Self { .init(storage: .io) }
        public var description: String { storage.rawValue }
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }

    static func malformed(_ what: String) -> ModelError { ModelError(.malformed, "Malformed model: \(what).") }
    static func invalid(_ what: String) -> ModelError { ModelError(.invalidModel, "Invalid model: \(what).") }
}
