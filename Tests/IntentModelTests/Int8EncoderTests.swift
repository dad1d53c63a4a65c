import Foundation
import IntentKernels
import IntentModel
import IntentTestSupport
import Testing
import Tokenization

/// The real all-MiniLM-L6-v2 with int8 projections against its own fp32 forward pass, over the
/// sentences of the reference goldens (Goldens/minilm.json). Loading, quantizing and every
/// forward pass run off the cooperative pool (`offPool`); the checks stay in the test bodies.
@Suite struct Int8EncoderTests {
    /// First touched inside `offPool` only (see `loaded`): loading and quantizing take seconds.
    static let model = Result { try BaseModel.load(ModelCache.defaultBaseModel) }
    static let int8Model = Result { try model.get().at(.int8) }

    /// The fp32 and int8 models, loaded (on first use) off the cooperative pool.
    static func loaded() async throws -> (base: BaseModel, quantized: BaseModel) {
        try await offPool { (try model.get(), try int8Model.get()) }
    }

    let sentences: [String]

    init() throws {
        let data = try Data(contentsOf: TestPaths.goldens.appendingPathComponent("minilm.json"))
        let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        sentences = try #require(json["sentences"] as? [String])
    }

    /// Mean-pooled, normalized sentence vectors from `encoder`, `batchSize` sentences at a time.
    func embed(_ encoder: Encoder, tokenizer: BertTokenizer, batchSize: Int) -> [[Float]] {
        let c = encoder.config.hiddenSize
        let workspace = EncoderWorkspace()
        var result: [[Float]] = []
        var start = 0
        while start < sentences.count {
            let chunk = Array(sentences[start..<min(start + batchSize, sentences.count)])
            let flat = encoder.embed(tokenizer.encodeBatch(chunk), pooling: .mean, normalize: true, workspace: workspace)
            for s in chunk.indices { result.append(Array(flat[(s * c)..<((s + 1) * c)])) }
            start += chunk.count
        }
        return result
    }

    @Test func effectivePrecision() {
        #expect(Precision.fp32.effective == .fp32)
        let expected: Precision = Int8Support.level == .unavailable ? .fp32 : .int8
        #expect(Precision.int8.effective == expected)
    }

    @Test func atInt8QuantizesEveryProjection() async throws {
        let (base, quantized) = try await Self.loaded()
        // `at` builds a new encoder (quantizing, for int8) when the precision changes: off the pool.
        let (baseAtFP32, quantizedAtInt8, quantizedAtFP32) = try await offPool {
            (base.at(.fp32).encoder.precision, quantized.at(.int8).encoder.precision, quantized.at(.fp32).encoder.precision)
        }
        #expect(base.encoder.precision == .fp32 && base.encoder.int8 == nil)
        #expect(baseAtFP32 == .fp32)
        guard Int8Support.level != .unavailable else {
            #expect(quantized.encoder.precision == .fp32)  // falls back on CPUs without AVX2
            return
        }
        #expect(quantized.encoder.precision == .int8)
        #expect(quantizedAtInt8 == .int8)
        #expect(quantizedAtFP32 == .fp32)
        #expect(quantized.defaultPooling == base.defaultPooling)
        let layers = try #require(quantized.encoder.int8).layers
        #expect(layers.count == base.encoder.config.layers)
        let c = base.encoder.config.hiddenSize, f = base.encoder.config.intermediateSize
        for (index, layer) in layers.enumerated() {
            let shapes = [layer.qkv, layer.attentionOutput, layer.intermediate, layer.output].map { $0.map { [$0.outFeatures, $0.inFeatures] } }
            #expect(shapes == [[3 * c, c], [c, c], [f, c], [c, f]], "layer \(index): \(shapes)")
        }
    }

    @Test func int8EmbeddingsCloseToFP32() async throws {
        let (base, quantized) = try await Self.loaded()
        #expect(sentences.count >= 200)
        let cosines = try await offPool { () -> [Double] in
            let reference = embed(base.encoder, tokenizer: base.tokenizer, batchSize: 16)
            let got = embed(quantized.encoder, tokenizer: quantized.tokenizer, batchSize: 16)
            return zip(got, reference).map { a, b in
                var dot = 0.0, na = 0.0, nb = 0.0
                for (x, y) in zip(a, b) {
                    dot += Double(x) * Double(y)
                    na += Double(x) * Double(x)
                    nb += Double(y) * Double(y)
                }
                return dot / (na * nb).squareRoot()
            }
        }
        for (i, cosine) in cosines.enumerated() {
            // Measured on an AVX2 CPU (7-bit weights): min 0.9894 (2–3 token inputs such as "" and
            // "okay", where mean pooling averages little of the error away), mean 0.9969.
            #expect(cosine >= 0.985, "sentence \(i) \(sentences[i].prefix(60).debugDescription): cosine \(cosine)")
        }
        let worst = try #require(cosines.indices.min { cosines[$0] < cosines[$1] })
        let mean = cosines.reduce(0, +) / Double(cosines.count)
        #expect(mean >= 0.995, "mean cosine \(mean)")
        print("[int8 vs fp32, \(quantized.encoder.precision), weightMax \(Int8Support.weightMax)] cosine over \(cosines.count) sentences: "
              + "min \(cosines[worst]) (sentence \(worst) \(sentences[worst].prefix(60).debugDescription)), mean \(mean)")
    }

    /// Rows are quantized per token, whatever the batch: batch 1 and batch 64 agree.
    @Test func int8BatchSizeIndependent() async throws {
        let quantized = try await Self.loaded().quantized
        let (single, batched) = try await offPool {
            (embed(quantized.encoder, tokenizer: quantized.tokenizer, batchSize: 1),
             embed(quantized.encoder, tokenizer: quantized.tokenizer, batchSize: 64))
        }
        var worst: Float = 0
        for (i, (a, b)) in zip(single, batched).enumerated() {
            let diff = maxAbsDifference(a[...], b[...])
            #expect(diff <= 1e-4, "sentence \(i): batch 1 vs 64 max abs diff \(diff)")
            worst = max(worst, diff)
        }
        print("[int8, batch 1 vs 64] worst max abs difference over \(single.count) sentences: \(worst)")
    }

    /// Every projection kept in fp32 (through the int8 code path) is the fp32 encoder.
    @Test func keepingEveryProjectionInFP32IsFP32() async throws {
        let base = try await Self.loaded().base
        let (encoder, worst) = try await offPool { () -> (Encoder, Float) in
            let encoder = Encoder(weights: base.encoder.weights, precision: .int8, keepFP32: { _, _ in true })
            let reference = embed(base.encoder, tokenizer: base.tokenizer, batchSize: 16)
            let got = embed(encoder, tokenizer: base.tokenizer, batchSize: 16)
            var worst: Float = 0
            for (a, b) in zip(got, reference) { worst = max(worst, maxAbsDifference(a[...], b[...])) }
            return (encoder, worst)
        }
        if let layers = encoder.int8?.layers {
            #expect(layers.allSatisfy { $0.qkv == nil && $0.attentionOutput == nil && $0.intermediate == nil && $0.output == nil })
        }
        #expect(worst <= 1e-5, "keepFP32 everywhere vs fp32: max abs diff \(worst)")
    }

    /// `keepFP32` leaves exactly the named projections unquantized.
    @Test func keepFP32SelectsProjections() async throws {
        let base = try await Self.loaded().base
        let weights = try await offPool {
            Int8Weights(base.encoder.weights, keepFP32: { layer, site in layer == 0 && site == .output || site == .qkv && layer == 2 })
        }
        for (index, layer) in weights.layers.enumerated() {
            #expect((layer.output == nil) == (index == 0), "layer \(index) output")
            #expect((layer.qkv == nil) == (index == 2), "layer \(index) qkv")
            #expect(layer.attentionOutput != nil && layer.intermediate != nil, "layer \(index)")
        }
    }
}

/// Hostile inputs through the int8 encoder: a 10 MB text (truncated to the model's 256 tokens),
/// NUL, combining marks and emoji, a full batch of maximum-length texts, and threads 1 vs 2.
@Suite struct Int8HostileInputTests {
    @Test func longAndStrangeTextsStayFiniteAndClose() async throws {
        let (base, quantized) = try await Int8EncoderTests.loaded()
        let huge = String(repeating: "refund my card please ", count: 10 * 1024 * 1024 / 22)
        let texts = [huge, "\u{0}\u{0}", "e\u{301}\u{301}\u{301} cafe\u{301} 👩‍👩‍👧 ok", String(repeating: "\u{301}", count: 5000)]
            + Array(repeating: String(repeating: "word ", count: 400), count: 32)
        // Tokenizing 10 MB and three forward passes: off the pool.
        let (firstLength, reference, one, two) = try await offPool { () -> (Int, [Float], [Float], [Float]) in
            let batch = base.tokenizer.encodeBatch(texts)
            return (batch.length(0),
                    base.encoder.embed(batch, pooling: .mean, normalize: true, workspace: EncoderWorkspace()),
                    quantized.encoder.embed(batch, pooling: .mean, normalize: true, workspace: EncoderWorkspace(), threads: 1),
                    quantized.encoder.embed(batch, pooling: .mean, normalize: true, workspace: EncoderWorkspace(), threads: 2))
        }
        #expect(firstLength == base.tokenizer.maxLength)
        let c = base.encoder.config.hiddenSize
        let finite = one.allSatisfy { $0.isFinite }
        #expect(finite)
        #expect(one == two, "threads 1 and 2 differ")
        for s in texts.indices {
            let cosine = (0..<c).reduce(Float(0)) { $0 + one[s * c + $1] * reference[s * c + $1] }
            #expect(cosine >= 0.98, "text \(s): cosine \(cosine)")
        }
    }
}
