import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tensor's entry in a safetensors header.
public struct TensorInfo: Sendable, Equatable {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", i8 = "I8", u8 = "U8", bool = "BOOL"
        var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16: 2
            case .i8, .u8, .bool: 1
            }
        }
    }
    public let dtype: DType
    public let shape: [Int]
    /// Byte range inside the data section (after the header).
    public let begin: Int
    public let end: Int
    public var elementCount: Int { shape.reduce(1, *) }
}

/// A memory-mapped safetensors file (8-byte little-endian header length, JSON header, data).
/// Every entry is checked against the file's size when it is opened; tensors convert to F32
/// on read (F32, F16, BF16 and F64 are floating types; anything else is refused by `floats`).
public final class SafeTensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: TensorInfo]
    public let metadata: [String: String]
    private let base: UnsafeMutableRawPointer
    private let mappedSize: Int
    private let dataStart: Int

    public init(url: URL) throws(ModelError) {
        path = url.path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ModelError(file: path, problem: "cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ModelError(file: path, problem: "cannot stat") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw ModelError(file: path, problem: "truncated: \(size) bytes, no header") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw ModelError(file: path, problem: "cannot memory-map")
        }
        base = map
        mappedSize = size
        do throws(ModelError) {
            let headerLength = Int(UInt64(littleEndian: map.loadUnaligned(as: UInt64.self)))
            guard headerLength > 0, headerLength <= size - 8 else {
                throw ModelError(file: path, problem: "truncated or malformed: header claims \(headerLength) bytes, file has \(size)")
            }
            dataStart = 8 + headerLength
            let headerData = Data(bytes: map + 8, count: headerLength)
            (tensors, metadata) = try Self.parseHeader(headerData, dataSize: size - dataStart, path: path)
        } catch {
            munmap(map, size)
            throw error
        }
    }

    deinit { munmap(base, mappedSize) }

    private static func parseHeader(_ data: Data, dataSize: Int, path: String) throws(ModelError) -> ([String: TensorInfo], [String: String]) {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelError(file: path, problem: "malformed header: not a JSON object")
        }
        var tensors: [String: TensorInfo] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let entry = value as? [String: Any], let dtypeName = entry["dtype"] as? String,
                  let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else { throw ModelError(file: path, problem: "malformed header entry for tensor '\(name)'") }
            guard let dtype = TensorInfo.DType(rawValue: dtypeName) else {
                throw ModelError(file: path, problem: "tensor '\(name)' has unsupported dtype \(dtypeName)")
            }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw ModelError(file: path, problem: "tensor '\(name)' has a negative dimension") }
            let info = TensorInfo(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
            guard info.begin >= 0, info.end >= info.begin, info.end - info.begin == info.elementCount * dtype.size else {
                throw ModelError(file: path, problem: "tensor '\(name)': offsets \(offsets) do not match shape \(shape) of \(dtypeName)")
            }
            guard info.end <= dataSize else {
                throw ModelError(file: path, problem: "truncated: tensor '\(name)' ends at byte \(info.end) of a \(dataSize)-byte data section")
            }
            tensors[name] = info
        }
        return (tensors, metadata)
    }

    /// The tensor converted to F32, checking its shape when `shape` is given.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws(ModelError) -> [Float] {
        guard let info = tensors[name] else { throw ModelError(file: path, problem: "missing tensor '\(name)'") }
        if let expected, expected != info.shape {
            throw ModelError(file: path, problem: "tensor '\(name)' has shape \(info.shape), expected \(expected)")
        }
        let n = info.elementCount
        let src = UnsafeRawPointer(base + dataStart + info.begin)
        var out = [Float](repeating: 0, count: n)
        switch info.dtype {
        case .f32:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16:
            for i in 0..<n {
                out[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<n {
                let bits = UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                out[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f64:
            for i in 0..<n { out[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        default:
            throw ModelError(file: path, problem: "tensor '\(name)' has dtype \(info.dtype.rawValue), expected a floating type (F32, F16, BF16)")
        }
        return out
    }
}

/// IEEE 754 half → single, including subnormals, infinities and NaN.
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    if exponent == 0 {
        if mantissa == 0 { return Float(bitPattern: sign) }
        let value = Float(mantissa) * 0x1p-24
        return sign == 0 ? value : -value
    }
    if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
    return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13))
}

/// Writes F32 tensors in the safetensors format (names sorted, 8-byte aligned header).
public enum SafeTensorsWriter {
    public struct Tensor: Sendable {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "tensor \(name): shape \(shape) does not hold \(values.count) values")
            self.name = name
            self.shape = shape
            self.values = values
        }
    }

    public static func data(_ tensors: [Tensor], metadata: [String: String] = [:]) throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let sorted = tensors.sorted { $0.name < $1.name }
        for t in sorted {
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]] as [String: Any]
            offset += 4 * t.values.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }
        var out = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        for t in sorted {
            t.values.withUnsafeBufferPointer { buf in
                for v in buf { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
            }
        }
        return out
    }

    /// Writes atomically (temporary file, then rename).
    public static func write(_ tensors: [Tensor], metadata: [String: String] = [:], to url: URL) throws {
        try data(tensors, metadata: metadata).write(to: url, options: .atomic)
    }
}
