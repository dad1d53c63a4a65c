import Foundation
import IntentModel
import Testing

@Suite struct SafeTensorsTests {
    @Test func writeThenReadRoundTrips() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("t.safetensors")
        try SafeTensorsWriter.write([
            .init(name: "b", shape: [2, 3], values: [1, 2, 3, 4, 5, -6.5]),
            .init(name: "a", shape: [1], values: [.pi]),
        ], metadata: ["format": "pt"], to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.floats("b", shape: [2, 3]) == [1, 2, 3, 4, 5, -6.5])
        #expect(try file.floats("a") == [.pi])
        #expect(file.metadata == ["format": "pt"])
        #expect(throws: ModelError.self) { try file.floats("b", shape: [3, 2]) }
        #expect(throws: ModelError.self) { try file.floats("missing") }
    }

    /// A hand-made file with F16, BF16 and I64 tensors.
    @Test func halfPrecisionConvertsAndIntegersAreRefused() throws {
        let header = #"{"h":{"dtype":"F16","shape":[4],"data_offsets":[0,8]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[8,12]},"i":{"dtype":"I64","shape":[1],"data_offsets":[12,20]}}"#
        var data = Data()
        withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(contentsOf: header.utf8)
        for h: UInt16 in [0x3C00, 0xC000, 0x0001, 0x7C00] { withUnsafeBytes(of: h.littleEndian) { data.append(contentsOf: $0) } }
        for b: UInt16 in [0x3F80, 0xC040] { withUnsafeBytes(of: b.littleEndian) { data.append(contentsOf: $0) } }
        withUnsafeBytes(of: Int64(7).littleEndian) { data.append(contentsOf: $0) }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("mixed.safetensors")
        try data.write(to: url)
        let file = try SafeTensorsFile(url: url)
        #expect(try file.floats("h") == [1, -2, 0x1p-24, .infinity])
        #expect(try file.floats("b") == [1, -3])
        let error = try #require(throws: ModelError.self) { try file.floats("i") }
        #expect(error.description.contains("dtype I64"))
    }

    @Test func truncatedFileIsRefusedWithItsName() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("cut.safetensors")
        let full = try SafeTensorsWriter.data([.init(name: "w", shape: [16], values: Array(repeating: 1, count: 16))])
        try full.prefix(full.count - 10).write(to: url)
        let error = try #require(throws: ModelError.self) { try SafeTensorsFile(url: url) }
        #expect(error.description.hasPrefix(url.path))
        #expect(error.description.contains("truncated"))
        try Data([1, 2, 3]).write(to: url)
        #expect(throws: ModelError.self) { try SafeTensorsFile(url: url) }
        var garbage = Data()
        withUnsafeBytes(of: UInt64(4).littleEndian) { garbage.append(contentsOf: $0) }
        garbage.append(contentsOf: "nope".utf8)
        try garbage.write(to: url)
        let malformed = try #require(throws: ModelError.self) { try SafeTensorsFile(url: url) }
        #expect(malformed.description.contains("malformed"))
    }
}
