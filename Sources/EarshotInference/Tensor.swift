/// A tensor as a kernel sees it at run time: where its bytes are, and what they mean.
public struct Tensor {
    public let info: TensorInfo
    /// The tensor's bytes (arena, constant or variable storage). Valid for the interpreter's lifetime.
    public let data: UnsafeMutableRawPointer
    public var shape: [Int] { info.shape }
    public var type: TensorType { info.type }
    public var count: Int { info.elementCount }
    public var scale: Float { info.quantization.scale }
    public var zeroPoint: Int32 { info.quantization.zeroPoint }

    /// The data as typed elements.
    @inline(__always) public func pointer<T>(_: T.Type) -> UnsafeMutablePointer<T> { data.assumingMemoryBound(to: T.self) }

    /// Dimension `i`, counting from the end when negative.
    public func dimension(_ i: Int) -> Int { shape[i < 0 ? shape.count + i : i] }
}
