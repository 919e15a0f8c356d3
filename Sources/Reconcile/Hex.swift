extension Sequence<UInt8> {
    /// Lowercase hex, two digits a byte. Spec hashes are computed for every service on every
    /// plan; `String(format: "%02x")` per byte went through Foundation's formatter and cost
    /// about as much as the SHA-256 itself.
    var lowercaseHex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
