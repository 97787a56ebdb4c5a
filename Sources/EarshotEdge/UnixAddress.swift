import Glibc

/// A `sockaddr_un` for a filesystem path, or for an abstract name when `abstract` (Linux: a leading NUL byte); nil
/// when the name does not fit. Returns the address and the length to pass with it.
func unixAddress(_ name: String, abstract: Bool = false) -> (sockaddr_un, socklen_t)? {
    var address = sockaddr_un()
    let bytes = Array(name.utf8)
    let offset = abstract ? 1 : 0
    guard bytes.count + offset < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i + offset] = b } }
    // The family, the name, and the terminating NUL (path) or the leading one (abstract).
    return (address, socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1))
}
