import Foundation
import IntentKernels
import IntentModel
import IntentTestSupport
import Testing
import Tokenization

/// Pooled embeddings of the real all-MiniLM-L6-v2 against sentence-transformers / transformers
/// (goldens from ops/reference/make_goldens.py), within 1e-4 max absolute difference. Loading
/// and the forward passes run off the cooperative pool (`offPool`); the checks stay in the tests.
@Suite struct ReferenceEncoderTests {
    /// First touched inside `offPool` only (see `loaded`): loading takes a while.
    static let model = Result { try BaseModel.load(ModelCache.defaultBaseModel) }

    /// The model, loaded (on first use) off the cooperative pool.
    static func loaded() async throws -> BaseModel {
        try await offPool { try model.get() }
    }

    let sentences: [String]
    let golden: SafeTensorsFile

    init() throws {
        let data = try Data(contentsOf: TestPaths.goldens.appendingPathComponent("minilm.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        sentences = try #require(json["sentences"] as? [String])
        golden = try SafeTensorsFile(url: TestPaths.goldens.appendingPathComponent("minilm.safetensors"))
    }

    func check(pooling: Pooling, normalize: Bool, golden key: String, batchSize: Int) async throws {
        let model = try await Self.loaded()
        #expect(sentences.count >= 200)
        let expected = try golden.floats(key, shape: [sentences.count, 384])
        let sentences = sentences
        // The forward passes and the per-sentence differences, off the pool; the checks here.
        let diffs = try await offPool { () -> [Float] in
            let got = model.embed(sentences, pooling: pooling, normalize: normalize, batchSize: batchSize)
            return got.enumerated().map { i, vector in maxAbsDifference(vector[...], expected[(i * 384)..<((i + 1) * 384)]) }
        }
        var worst: Float = 0
        for (i, diff) in diffs.enumerated() {
            #expect(diff <= 1e-4, "sentence \(i) \(sentences[i].prefix(60).debugDescription): max abs diff \(diff)")
            worst = max(worst, diff)
        }
        print("[\(key), batch \(batchSize)] worst max abs difference over \(sentences.count) sentences: \(worst)")
    }

    @Test func sentenceTransformersEmbeddings() async throws {
        try await check(pooling: .mean, normalize: true, golden: "st", batchSize: 16)
    }

    @Test func unnormalizedMeanPooling() async throws {
        try await check(pooling: .mean, normalize: false, golden: "mean", batchSize: 64)
    }

    @Test func clsPooling() async throws {
        try await check(pooling: .cls, normalize: false, golden: "cls", batchSize: 1)
    }

    @Test func defaultPoolingIsSentenceTransformersMean() async throws {
        let model = try await Self.loaded()
        #expect(model.defaultPooling == .mean)
        #expect(model.tokenizer.maxLength == 256)
    }
}

/// Random-weight tiny models saved by transformers: the BERT ("bert." prefix) and DistilBERT
/// ("distilbert.", q_lin/k_lin/v_lin…) naming paths.
@Suite struct TinyModelTests {
    @Test(arguments: ["tiny-bert", "tiny-distilbert"])
    func tinyModelMatchesTransformers(name: String) throws {
        let dir = TestPaths.goldens.appendingPathComponent(name)
        let model = try BaseModel.load(dir)
        #expect(model.encoder.config.architecture.rawValue == String(name.dropFirst(5)))
        let expectedJSON = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json"))) as? [String: Any]
        let texts = try #require(expectedJSON?["texts"] as? [String])
        let ids = try #require(expectedJSON?["ids"] as? [[Int]])
        #expect(texts.map { model.tokenizer.encode($0).map(Int.init) } == ids)
        let expected = try SafeTensorsFile(url: dir.appendingPathComponent("expected.safetensors"))
        let c = model.encoder.config.hiddenSize
        for pooling in Pooling.allCases {
            let reference = try expected.floats(pooling.rawValue, shape: [texts.count, c])
            let got = model.embed(texts, pooling: pooling, batchSize: 3)
            for i in texts.indices {
                #expect(maxAbsDifference(got[i][...], reference[(i * c)..<((i + 1) * c)]) < 1e-5, "\(name) \(pooling) text \(i)")
            }
        }
    }
}
