/// Lower-case hexadecimal of bytes (digests, checksums, random suffixes).
extension Sequence where Element == UInt8 {
    public var hex: String {
        var out = ""
        for byte in self {
            let digits = String(byte, radix: 16)
            out += digits.count == 1 ? "0" + digits : digits
        }
        return out
    }
}
