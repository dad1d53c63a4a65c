import Foundation
import HTTPTypes
import IntentData
import IntentKernels
import IntentModel
import IntentStore
import Training

/// Evaluates a stored adapter on a labelled set an admin sends (`POST /v1/models/{version}/evaluate`):
/// accuracy, macro-F1 and per-intent scores. One evaluation at a time per process — a second gets
/// 429 — on threads of their own at low priority, so serving keeps its cores.
final class AdapterEvaluator: @unchecked Sendable {
    let store: Store
    let base: BaseModel
    let cache: AdapterCache
    private let lock = NSLock()
    private var running = false
    /// Most examples one request may send.
    static let maximumExamples = 100_000

    let precision: Precision

    init(store: Store, base: BaseModel, cache: AdapterCache, precision: Precision = .fp32) {
        self.precision = precision
        self.store = store
        self.base = base
        self.cache = cache
    }

    struct Report: Encodable, Sendable {
        struct Intent: Encodable, Sendable {
            let intent: String
            let support: Int
            let precision: Double
            let recall: Double
            let f1: Double
        }
        let adapterVersion: String
        let examples: Int
        let correct: Int
        let accuracy: Double
        let macroF1: Double
        /// Examples whose intent the adapter does not know (counted wrong).
        let unknownIntents: Int
        let perIntent: [Intent]
        let seconds: Double
    }

    func evaluate(_ record: AdapterRecord, examples: [LabelledExample]) async throws -> Report {
        guard lock.withLock({ running ? false : { running = true; return true }() }) else {
            throw APIError(.tooManyRequests, code: "busy", "another evaluation is running in this server; retry when it finishes", retryAfter: 5)
        }
        defer { lock.withLock { running = false } }
        let model = try await Bootstrap.load(record, store: store, base: base, cache: cache, precision: precision)
        let start = Date()
        let threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let predicted = try await onDedicatedThread(name: "intentloop.evaluate") { () -> [String] in
            lowerThreadPriority(by: 10)
            let texts = examples.map(\.text)
            let out = UnsafeMutableBufferPointer<String>.allocate(capacity: texts.count)
            out.initialize(repeating: "")
            defer { out.deallocate() }
            let shared = SendableBuffer(out)
            parallelRanges(texts.count, threads: threads, grain: 64) { range in
                lowerThreadPriority(by: 10, onDispatchWorker: true)  // background, like training's
                let predictions = model.classifier.predict(Array(texts[range]), topK: 1, batchSize: 64)
                for (i, p) in zip(range, predictions) { shared.buffer[i] = p.intent }
            }
            return Array(out)
        }
        let known = Set(model.classifier.labels)
        let evaluation = Evaluation(expected: examples.map(\.intent), predicted: predicted)
        return Report(adapterVersion: record.version, examples: examples.count, correct: zip(examples, predicted).filter { $0.intent == $1 }.count,
                      accuracy: evaluation.accuracy, macroF1: evaluation.macroF1,
                      unknownIntents: examples.filter { !known.contains($0.intent) }.count,
                      perIntent: evaluation.perIntent.map { .init(intent: $0.intent, support: $0.support, precision: $0.precision, recall: $0.recall, f1: $0.f1) },
                      seconds: Date().timeIntervalSince(start))
    }
}

/// Each thread of `parallelRanges` writes its own disjoint range.
private struct SendableBuffer: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<String>
    init(_ buffer: UnsafeMutableBufferPointer<String>) { self.buffer = buffer }
}
