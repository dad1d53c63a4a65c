import Foundation
import IntentModel
import Testing

/// Unusable model directories give one-line errors that name the file and the problem.
@Suite struct ModelLoadingErrorTests {
    func copyOfTinyBERT() throws -> URL {
        let dir = try TestPaths.temporaryDirectory()
        for f in ["config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json"] {
            try FileManager.default.copyItem(
                at: TestPaths.goldens.appendingPathComponent("tiny-bert/\(f)"), to: dir.appendingPathComponent(f))
        }
        return dir
    }

    @Test func missingDirectory() {
        let error = #expect(throws: ModelError.self) { try BaseModel.load(URL(fileURLWithPath: "/nonexistent/model")) }
        #expect(error?.description.contains("model directory not found") == true)
    }

    @Test func missingWeights() throws {
        let dir = try copyOfTinyBERT()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("model.safetensors"))
        let error = #expect(throws: ModelError.self) { try BaseModel.load(dir) }
        #expect(error?.file.hasSuffix("model.safetensors") == true)
    }

    @Test func unknownArchitecture() throws {
        let dir = try copyOfTinyBERT()
        defer { try? FileManager.default.removeItem(at: dir) }
        try #"{"model_type": "roberta", "hidden_size": 32}"#.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let error = #expect(throws: ModelError.self) { try BaseModel.load(dir) }
        #expect(error?.description.contains("unknown architecture 'roberta'") == true)
        #expect(error?.file.hasSuffix("config.json") == true)
    }

    @Test func corruptWeights() throws {
        let dir = try copyOfTinyBERT()
        defer { try? FileManager.default.removeItem(at: dir) }
        let url = dir.appendingPathComponent("model.safetensors")
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        let error = #expect(throws: ModelError.self) { try BaseModel.load(dir) }
        #expect(error?.description.contains("truncated") == true)
    }

    @Test func wrongShapeIsNamed() throws {
        let dir = try copyOfTinyBERT()
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["intermediate_size"] = 64
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
        let error = #expect(throws: ModelError.self) { try BaseModel.load(dir) }
        #expect(error?.description.contains("intermediate.dense.weight' has shape [48, 32], expected [64, 32]") == true)
    }

    @Test func missingConfig() throws {
        let dir = try copyOfTinyBERT()
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.removeItem(at: dir.appendingPathComponent("config.json"))
        let error = #expect(throws: ModelError.self) { try BaseModel.load(dir) }
        #expect(error?.description.hasSuffix("config.json: missing or unreadable") == true)
    }
}
