import Foundation
import Testing

/// `--precision int8|fp32` of `embed`, `eval` and `predict` on the real base model: both run, int8
/// stays close to fp32 (and is really int8 where the CPU has AVX2), bad values are one line and
/// exit 2, and int8 falls back to fp32 where oneDNN offers no AVX2.
///
/// CLITests links no product module, so `Int8Support.level` is read the way oneDNN decides it: the
/// CPU's AVX2 flag, with `ONEDNN_MAX_CPU_ISA` pinned to ALL in the children (an inherited limit
/// would otherwise change the answer).
@Suite(.serialized) struct PrecisionOptionTests {
    let cli = CLITests()

    /// Whether this CPU offers AVX2 (`Int8Support.level != .unavailable` with no ISA limit).
    static let cpuHasAVX2: Bool = {
        #if arch(x86_64)
        #if os(Linux)
        guard let data = FileManager.default.contents(atPath: "/proc/cpuinfo") else { return false }
        return String(decoding: data, as: UTF8.self).split(separator: "\n")
            .contains { $0.hasPrefix("flags") && $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).contains("avx2") }
        #else
        var value: Int32 = 0
        var size = MemoryLayout<Int32>.size
        return sysctlbyname("hw.optional.avx2_0", &value, &size, nil, 0) == 0 && value == 1
        #endif
        #else
        return false
        #endif
    }()

    /// What `--precision int8` runs as in a child with `environment`: "int8", or "fp32" on CPUs
    /// without AVX2; nil when a oneDNN ISA limit in `environment` leaves it open.
    static func int8Effective(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let limit = environment["ONEDNN_MAX_CPU_ISA"] ?? environment["DNNL_MAX_CPU_ISA"], limit.uppercased() != "ALL" { return nil }
        return cpuHasAVX2 ? "int8" : "fp32"
    }

    /// The children's environment: no inherited oneDNN ISA limit.
    static let unlimited = ["ONEDNN_MAX_CPU_ISA": "ALL"]

    static var baseModelExists: Bool {
        let home = ProcessInfo.processInfo.environment["INTENTLOOP_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/intentloop").path
        let dir = ProcessInfo.processInfo.environment["INTENTLOOP_MODEL_DIR"].flatMap { $0.isEmpty ? nil : $0 } ?? home + "/models/all-MiniLM-L6-v2"
        return FileManager.default.fileExists(atPath: dir + "/config.json")
    }

    static let texts = [
        "",
        "okay",
        "I ordered a pair of running shoes three weeks ago and the tracking page still says the label was created, "
            + "so could you please tell me where my parcel is, when it will finally arrive, and whether I should cancel the order "
            + "and buy the shoes somewhere else, because I need them for a half marathon at the end of next month and I am running out of time",
        "Cafe\u{301} nai\u{308}ve re\u{301}sume\u{301}: Zoe\u{308} n\u{303} a\u{30A}\u{323} — cancel my order",
    ]

    /// One JSON line per text: the embeddings.
    func embed(_ texts: [String], precision: String, environment: [String: String] = unlimited) throws -> [[Double]] {
        let r = try cli.run(["embed", "--precision", precision, "--normalize"], stdin: texts.map { $0 + "\n" }.joined(), environment: environment)
        #expect(r.status == 0, "embed --precision \(precision): exit \(r.status), \(r.stderr)")
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == texts.count, "\(lines.count) lines for \(texts.count) texts")
        return try lines.map { line in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line.prefix(200))")
            return try #require(object["embedding"] as? [NSNumber], "\(line.prefix(200))").map(\.doubleValue)
        }
    }

    func cosine(_ a: [Double], _ b: [Double]) -> Double {
        let dot = zip(a, b).reduce(0) { $0 + $1.0 * $1.1 }
        let na = a.reduce(0) { $0 + $1 * $1 }.squareRoot(), nb = b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        return dot / (na * nb)
    }

    @Test func embedInInt8StaysCloseToFP32() throws {
        try #require(Self.baseModelExists, "the base model (ops/setup) is missing")
        let fp32 = try embed(Self.texts, precision: "fp32")
        let int8 = try embed(Self.texts, precision: "int8")
        try #require(fp32.count == Self.texts.count && int8.count == Self.texts.count)
        let int8Runs = Self.int8Effective(Self.unlimited) == "int8"
        for (i, text) in Self.texts.enumerated() {
            let label = "text \(i) (\(text.prefix(30)))"
            #expect(fp32[i].count == 384 && int8[i].count == fp32[i].count, "\(label): dimensions \(fp32[i].count), \(int8[i].count)")
            #expect(fp32[i].allSatisfy(\.isFinite) && int8[i].allSatisfy(\.isFinite), "\(label)")
            let c = cosine(fp32[i], int8[i])
            #expect(c >= 0.98, "\(label): cosine(fp32, int8) = \(c)")
            if int8Runs {
                #expect(int8[i] != fp32[i], "\(label): int8 is bit-identical to fp32, so --precision int8 did not take effect")
            } else {
                #expect(int8[i] == fp32[i], "\(label): without AVX2 int8 must fall back to fp32")
            }
        }
        // The default is int8 (compared on one text alone: a batch's padding may change the last bits).
        let one = ["okay"]
        let plain = try cli.run(["embed", "--normalize"], stdin: "okay\n", environment: Self.unlimited)
        #expect(plain.status == 0, "\(plain.stderr)")
        let line = try #require(plain.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let byDefault = try #require((object["embedding"] as? [NSNumber])?.map(\.doubleValue))
        #expect(byDefault == (try embed(one, precision: "int8")).first, "embed without --precision runs int8")
        if int8Runs { #expect(byDefault != (try embed(one, precision: "fp32")).first, "embed without --precision runs int8, not fp32") }
    }

    @Test func anUnknownPrecisionIsOneLineAndExit2() throws {
        for value in ["fp16", "", "INT8", "int4"] {
            cli.expectOneLineError(try cli.run(["embed", "--precision", value, "--model", CLITests.tinyBERT.path], stdin: "okay\n"),
                                   containing: "--precision")
        }
        cli.expectOneLineError(try cli.run(["predict", "--precision", "fp16", "--adapter", "/nonexistent", "hello"]), containing: "--precision")
        cli.expectOneLineError(try cli.run(["eval", "--precision", "fp16", "--adapter", "/nonexistent", "--data", "/nonexistent"]),
                               containing: "--precision")
        cli.expectOneLineError(try cli.run(["serve", "--precision", "fp16"]), containing: "--precision")
    }

    // MARK: - eval and predict with a small adapter

    static let training: [(String, String)] = [
        ("where is my parcel", "track_package"), ("track my order please", "track_package"), ("has my package shipped yet", "track_package"),
        ("when will my delivery arrive", "track_package"), ("cancel my order", "cancel_order"), ("i want to cancel the purchase", "cancel_order"),
        ("please stop my order", "cancel_order"), ("don't send it, cancel", "cancel_order"), ("i forgot my password", "reset_password"),
        ("reset my password", "reset_password"), ("cannot log in, need a new password", "reset_password"), ("password reset link please", "reset_password"),
    ]

    /// The training examples and 30 paraphrases (42: one flip is 2.4 points).
    static let evaluation: [(String, String)] = training + [
        ("where's my package", "track_package"), ("can you track my shipment", "track_package"), ("my parcel has not arrived", "track_package"),
        ("what is the status of my delivery", "track_package"), ("is my order on its way", "track_package"), ("how long until my box gets here", "track_package"),
        ("tracking number for my order", "track_package"), ("the courier still hasn't delivered", "track_package"), ("when does my package come", "track_package"),
        ("has the shipment left the warehouse", "track_package"),
        ("i'd like to cancel my order", "cancel_order"), ("cancel the purchase i just made", "cancel_order"), ("please cancel it, i changed my mind", "cancel_order"),
        ("stop the order before it ships", "cancel_order"), ("i no longer want this order", "cancel_order"), ("how do i cancel an order", "cancel_order"),
        ("cancel order number 1234", "cancel_order"), ("call off my purchase", "cancel_order"), ("i want my order cancelled", "cancel_order"),
        ("don't ship my order, cancel it", "cancel_order"),
        ("i need to reset my password", "reset_password"), ("forgot password", "reset_password"), ("how do i change my password", "reset_password"),
        ("i can't sign in to my account", "reset_password"), ("send me a password reset email", "reset_password"), ("my password doesn't work", "reset_password"),
        ("locked out of my account, new password please", "reset_password"), ("reset login credentials", "reset_password"),
        ("i lost my password", "reset_password"), ("password recovery", "reset_password"),
    ]

    static func jsonLines(_ examples: [(String, String)]) -> String {
        examples.map { #"{"text": \#(jsonText($0.0)), "intent": "\#($0.1)"}"# }.joined(separator: "\n") + "\n"
    }

    static func jsonText(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s])
        return String(decoding: data.dropFirst().dropLast(), as: UTF8.self)
    }

    /// A three-intent adapter trained once per test run (the IntentServerTests fixture's examples, 2 epochs).
    static let adapter: Result<(adapter: String, data: String), any Error> = Result {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("intentloop-precision-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let train = dir.appendingPathComponent("train.jsonl"), eval = dir.appendingPathComponent("eval.jsonl")
        try jsonLines(training).write(to: train, atomically: true, encoding: .utf8)
        try jsonLines(evaluation).write(to: eval, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("adapter").path
        let r = try CLITests().run(["train", "--data", train.path, "--out", out, "--epochs", "2", "--seed", "1"])
        guard r.status == 0 else { throw CLIFailureForTest(message: "train: exit \(r.status): \(r.stderr)") }
        return (out, eval.path)
    }

    struct CLIFailureForTest: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    func evaluate(precision: String, environment: [String: String] = unlimited) throws -> [String: Any] {
        let fixture = try Self.adapter.get()
        let r = try cli.run(["eval", "--json", "--precision", precision, "--adapter", fixture.adapter, "--data", fixture.data], environment: environment)
        #expect(r.status == 0, "eval --precision \(precision): exit \(r.status), \(r.stderr)")
        return try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout.prefix(300))")
    }

    @Test func evalReportsItsPrecisionAndInt8KeepsTheAccuracy() throws {
        try #require(Self.baseModelExists, "the base model (ops/setup) is missing")
        let fp32 = try evaluate(precision: "fp32")
        let int8 = try evaluate(precision: "int8")
        #expect(fp32["inference_precision"] as? String == "fp32", "\(fp32["inference_precision"] ?? "no precision key")")
        #expect(int8["inference_precision"] as? String == Self.int8Effective(Self.unlimited), "\(int8["inference_precision"] ?? "no precision key"), AVX2: \(Self.cpuHasAVX2)")
        #expect(fp32["count"] as? Int == Self.evaluation.count && int8["count"] as? Int == Self.evaluation.count)
        let a32 = try #require(fp32["accuracy"] as? Double), a8 = try #require(int8["accuracy"] as? Double)
        #expect(a32 >= 0.8, "fp32 accuracy \(a32): the adapter did not learn the three intents")
        #expect(abs(a32 - a8) <= 0.05, "accuracy fp32 \(a32), int8 \(a8)")
        let f32 = try #require(fp32["macro_f1"] as? Double), f8 = try #require(int8["macro_f1"] as? Double)
        #expect(abs(f32 - f8) <= 0.05, "macro-F1 fp32 \(f32), int8 \(f8)")
        // The default is int8; the text report names the precision too.
        let fixture = try Self.adapter.get()
        let plain = try cli.run(["eval", "--json", "--adapter", fixture.adapter, "--data", fixture.data], environment: Self.unlimited)
        let object = try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any]
        #expect(object?["inference_precision"] as? String == Self.int8Effective(Self.unlimited), "\(plain.stdout.prefix(200)) \(plain.stderr)")
        let text = try cli.run(["eval", "--precision", "fp32", "--adapter", fixture.adapter, "--data", fixture.data], environment: Self.unlimited)
        #expect(text.status == 0 && text.stdout.split(separator: "\n").first?.hasSuffix(", fp32)") == true, "\(text.stdout.prefix(200))")
    }

    @Test func predictInInt8GivesOneJSONLinePerText() throws {
        try #require(Self.baseModelExists, "the base model (ops/setup) is missing")
        let fixture = try Self.adapter.get()
        let texts = ["where is my parcel", "cancel my order", "reset my password", #"say "hi" \ to Zoe\#u{308}"#, "okay"]
        let labels: Set<String> = ["track_package", "cancel_order", "reset_password"]
        var intents: [String: [String]] = [:]
        for precision in ["int8", "fp32"] {
            let r = try cli.run(["predict", "--precision", precision, "--adapter", fixture.adapter, "--top-k", "2"] + texts, environment: Self.unlimited)
            #expect(r.status == 0, "predict --precision \(precision): exit \(r.status), \(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == texts.count, "\(precision): \(r.stdout)")
            for (line, text) in zip(lines, texts) {
                let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
                #expect(object["text"] as? String == text)
                let intent = try #require(object["intent"] as? String, "\(line)")
                #expect(labels.contains(intent), "\(line)")
                let confidence = try #require(object["confidence"] as? Double, "\(line)")
                #expect(confidence > 0 && confidence <= 1, "\(line)")
                let top = try #require(object["top_k"] as? [[String: Any]], "\(line)")
                #expect(top.count == 2 && top.first?["intent"] as? String == intent, "\(line)")
                intents[precision, default: []].append(intent)
            }
        }
        // The unambiguous training texts keep their intents in int8.
        #expect(intents["int8"]?.prefix(3) == ["track_package", "cancel_order", "reset_password"], "\(intents)")
        #expect(intents["fp32"]?.prefix(3) == intents["int8"]?.prefix(3), "\(intents)")
    }

    /// oneDNN limited to SSE4.1 (`Int8Support.level == .unavailable`): int8 runs as fp32 and says so.
    @Test func int8FallsBackToFP32WithoutAVX2() throws {
        try #require(Self.baseModelExists, "the base model (ops/setup) is missing")
        let noAVX2 = ["ONEDNN_MAX_CPU_ISA": "SSE41"]
        let fp32 = try embed(Self.texts, precision: "fp32")
        let int8 = try embed(Self.texts, precision: "int8", environment: noAVX2)
        #expect(int8 == fp32, "int8 without AVX2 must run (bit-identical) fp32")
        let report = try evaluate(precision: "int8", environment: noAVX2)
        #expect(report["inference_precision"] as? String == "fp32", "\(report["inference_precision"] ?? "no precision key")")
    }
}
