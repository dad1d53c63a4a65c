import Foundation
import GateStatistics
import Hummingbird
import IntentStore
import LoopCore
import Simulation

/// Adapters over HTTP: the list, the deployment history, the gate policy, promotion (an admin's
/// override), rollback and the comparison of two adapters — as `/v1/models…` (admin, JSON) and
/// as the admin models page and the comparison page.
struct ModelRoutes {
    let store: Store
    let pages: WebPages

    func add(to router: Router<AppContext>, forms: WebRoutes) {
        let v1 = router.group("v1")
        v1.get("models", use: models)
        v1.get("models/compare", use: compareJSON)
        v1.get("models/deployments", use: deploymentsJSON)
        v1.post("models/rollback", use: rollbackJSON)
        v1.post("models/:version/promote", use: promoteJSON)
        v1.get("gate/policy", use: policyJSON)
        v1.put("gate/policy", use: setPolicyJSON)
        router.get("admin/models", use: modelsPage)
        router.get("models/compare", use: comparePage)
        router.post("admin/models/rollback") { request, context in
            let form: RollbackForm = try await forms.requireForm(request, context: context, role: .admin)
            let user = context.session!.user
            do {
                _ = try await store.rollback(actor: AdapterActor(id: user.id, name: user.username), reason: try Self.reason(form.reason),
                                             from: try form.from.map { try Self.version($0, field: "from") })
                return Response.redirect("/admin/models")
            } catch let error as StoreError where error.code == .conflict || error.code == .invalid {
                return Response.redirect(to: "/admin/models", error: error.message)
            }
        }
        router.post("admin/models/promote") { request, context in
            let form: PromoteForm = try await forms.requireForm(request, context: context, role: .admin)
            let user = context.session!.user
            do {
                _ = try await store.promote(try Self.version(form.version, field: "version"), by: .admin,
                                            actor: AdapterActor(id: user.id, name: user.username), reason: try Self.reason(form.reason))
                return Response.redirect("/admin/models")
            } catch let error as StoreError where [.conflict, .invalid, .notFound].contains(error.code) {
                return Response.redirect(to: "/admin/models", error: error.message)
            }
        }
        router.post("admin/models/policy") { request, context in
            let form: [String: String] = try await forms.requireForm(request, context: context, role: .admin)
            do {
                try await store.setGatePolicy(try Self.policy(from: form), actor: context.session?.user.id)
                return Response.redirect("/admin/models")
            } catch let error as StoreError where error.code == .invalid {
                return Response.redirect(to: "/admin/models", error: "Policy not saved: \(error.message)")
            }
        }
    }

    struct RollbackForm: Decodable {
        let reason: String?
        /// The production adapter the page showed.
        let from: String?
    }
    struct PromoteForm: Decodable {
        let version: String
        let reason: String?
    }
    struct ReasonBody: Decodable {
        let reason: String?
        /// Rollback only: the production adapter the caller expects to roll back (409 when it changed).
        var from: String? = nil
    }

    // MARK: API

    @Sendable func models(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        struct List: Encodable { let adapters: [AdapterRecord] }
        return try json(List(adapters: try await store.adapters()))
    }

    @Sendable func compareJSON(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        return try json(try await compare(request))
    }

    @Sendable func deploymentsJSON(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let limit = try QueryParameter.integer(request.uri.queryParameters["limit"].map(String.init), field: "limit", in: 1...1000) ?? 100
        struct List: Encodable { let deployments: [DeploymentRecord] }
        return try json(List(deployments: try await store.deployments(limit: limit)))
    }

    /// POST /v1/models/rollback {"reason": …}: production returns to the adapter it replaced.
    @Sendable func rollbackJSON(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let body: ReasonBody = try await optionalBody(request, context: context) ?? ReasonBody(reason: nil)
        return try json(try await store.rollback(actor: AdapterActor(id: admin.id, name: admin.username), reason: try Self.reason(body.reason),
                                                 from: try body.from.map { try Self.version($0, field: "from") }))
    }

    /// POST /v1/models/{version}/promote {"reason": …}: an admin's audited override of the gate.
    @Sendable func promoteJSON(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let version = try Self.version(context.parameters.get("version"), field: "version")
        let body: ReasonBody = try await optionalBody(request, context: context) ?? ReasonBody(reason: nil)
        return try json(try await store.promote(version, by: .admin, actor: AdapterActor(id: admin.id, name: admin.username),
                                                reason: try Self.reason(body.reason)))
    }

    @Sendable func policyJSON(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        return try json(try await store.gatePolicy())
    }

    /// PUT /v1/gate/policy: the whole policy or some of its fields (the rest keep their stored values).
    @Sendable func setPolicyJSON(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let changes: [String: JSONValue] = try await decodeJSON(request, context: context, convertKeys: false)
        var merged = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try await store.gatePolicy())) as? [String: Any] ?? [:]
        for (key, value) in changes {
            guard merged[key] != nil else { throw APIError.invalid(key, "\(key) is not a gate policy setting") }
            switch value {
            case .null, .other: throw APIError.invalid(key, "\(key) must be a number, a boolean or a mode name")
            default: merged[key] = value.any
            }
        }
        let policy: GatePolicy
        do { policy = try JSONDecoder().decode(GatePolicy.self, from: JSONSerialization.data(withJSONObject: merged)) } catch let error as DecodingError {
            throw APIError.invalid(error.fieldName, "the policy is not valid: \(error.summary)")
        }
        try await store.setGatePolicy(policy, actor: admin.id)
        return try json(policy)
    }

    func compare(_ request: Request) async throws -> ComparisonReport {
        let a = request.uri.queryParameters["a"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        let b = request.uri.queryParameters["b"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
        return try await ComparisonReport.build(store: store, a: a, b: b)
    }

    /// A JSON body when one was sent (with a length or chunked); nil for an empty body.
    func optionalBody<T: Decodable>(_ request: Request, context: AppContext) async throws -> T? {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        guard buffer.readableBytes > 0 else { return nil }
        var copy = request
        copy.body = .init(buffer: buffer)
        return try await decodeJSON(copy, context: context)
    }

    static func reason(_ text: String?) throws -> String {
        let reason = (text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if reason.isEmpty { return "no reason given" }
        if let problem = InputRules.textProblem(reason, maxScalars: 500) { throw StoreError(.invalid, "reason \(problem)", field: "reason") }
        return reason
    }

    static func version(_ text: String?, field: String) throws -> String {
        guard let text, InputRules.textProblem(text, maxScalars: 200) == nil else {
            throw StoreError(.invalid, "\(field) is not an adapter version", field: field)
        }
        return text
    }

    /// A policy from the page's form (every field present; checkboxes absent mean off).
    static func policy(from form: [String: String]) throws -> GatePolicy {
        var p = GatePolicy()
        func number(_ key: String) throws -> Double {
            guard let raw = form[key]?.trimmingCharacters(in: .whitespaces), let v = Double(raw), v.isFinite else {
                throw StoreError(.invalid, "\(key) must be a number", field: key)
            }
            return v
        }
        func integer(_ key: String) throws -> Int {
            guard let raw = form[key]?.trimmingCharacters(in: .whitespaces), let v = Int(raw) else {
                throw StoreError(.invalid, "\(key) must be a whole number", field: key)
            }
            return v
        }
        guard let mode = form["mode"].flatMap(GatePolicy.Mode.init(rawValue:)) else {
            throw StoreError(.invalid, "mode must be superiority or non_inferiority", field: "mode")
        }
        p.mode = mode
        p.minimumPairedSamples = try integer("minimum_paired_samples")
        p.significanceLevel = try number("significance_level")
        p.minimumGain = try number("minimum_gain")
        p.nonInferiorityMargin = try number("non_inferiority_margin")
        p.maximumGoldenRegression = try number("maximum_golden_regression")
        p.maximumRecallDrop = try number("maximum_recall_drop")
        p.minimumIntentSupport = try integer("minimum_intent_support")
        p.shadowSampleRate = try number("shadow_sample_rate")
        p.minimumShadowHours = try number("minimum_shadow_hours")
        p.minimumShadowPredictions = try integer("minimum_shadow_predictions")
        p.maximumShadowHours = try number("maximum_shadow_hours")
        p.bootstrapResamples = try integer("bootstrap_resamples")
        p.autoPromote = form["auto_promote"] == "on"
        if let problem = p.problems().first { throw StoreError(.invalid, "\(problem.field) \(problem.message)", field: problem.field) }
        return p
    }
}

/// Any JSON value (for a partial update whose fields are checked afterwards).
enum JSONValue: Decodable {
    case number(Double), bool(Bool), string(String), null, other
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) { self = .string(s) } else { self = .other }
    }
    var any: Any {
        switch self {
        case .number(let n): n == n.rounded() && abs(n) < 1e15 ? Int(n) as Any : n
        case .bool(let b): b
        case .string(let s): s
        case .null, .other: NSNull()
        }
    }
}

// MARK: Pages

extension ModelRoutes {
    /// GET /admin/models: every adapter with status, lineage and metrics; the deployment
    /// history; rollback, promotion and the gate policy.
    @Sendable func modelsPage(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context, request: request) { return refusal }
        let csrf = context.session?.csrfToken ?? ""
        let all = try await store.adapters()
        let production = all.first { $0.status == .production }?.version
        let adapters = all.prefix(100).map { a -> [String: Any] in
            var values: [String: Any] = [
                "version": a.version, "status": a.status.rawValue, "reason": a.statusReason, "parent": a.parentVersion ?? "",
                "intents": a.labels.count, "golden": percentText(a.metrics["golden_accuracy"]), "pool": percentText(a.metrics["evaluation_pool_accuracy"]),
                "feedback": a.feedbackTo.map { "\(a.feedbackFrom ?? 0)–\($0)" } ?? "", "created": iso8601(a.createdAt),
                "verdict": [.candidate, .shadow, .rejected].contains(a.status) ? a.gateReport.map { "\($0.verdict.rawValue) (\($0.rule))" } ?? "" : "",
                "csrf": csrf,
                "promotable": [.candidate, .shadow, .retired, .rejected].contains(a.status),
            ]
            if let production, a.version != production, a.sha256 != nil {
                values["compare"] = "/models/compare?a=\(percentEncoded(production))&b=\(percentEncoded(a.version))"
            }
            return values
        }
        let deployments = try await store.deployments(limit: 50).map { d -> [String: Any] in
            ["id": d.id, "action": d.action, "version": d.adapterVersion, "previous": d.previousVersion ?? "", "by": d.actorName, "reason": d.reason,
             "at": iso8601(d.createdAt)]
        }
        let p = try await store.gatePolicy()
        let policy: [String: Any] = [
            "superiority": p.mode == .superiority, "nonInferiority": p.mode == .nonInferiority,
            "minimum_paired_samples": p.minimumPairedSamples, "significance_level": number(p.significanceLevel), "minimum_gain": number(p.minimumGain),
            "non_inferiority_margin": number(p.nonInferiorityMargin), "maximum_golden_regression": number(p.maximumGoldenRegression),
            "maximum_recall_drop": number(p.maximumRecallDrop), "minimum_intent_support": p.minimumIntentSupport,
            "shadow_sample_rate": number(p.shadowSampleRate), "minimum_shadow_hours": number(p.minimumShadowHours),
            "minimum_shadow_predictions": p.minimumShadowPredictions, "maximum_shadow_hours": number(p.maximumShadowHours),
            "bootstrap_resamples": p.bootstrapResamples, "auto_promote": p.autoPromote,
        ]
        var values: [String: Any] = ["adapters": adapters, "deployments": deployments, "policy": policy, "csrf": csrf, "production": production ?? "none",
                                     "hasProduction": production != nil]
        if let run = try await store.simulationRuns(limit: 1).first {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            if let report = try? decoder.decode(SimulationReport.self, from: Data(run.report.utf8)) {
                values["simulation"] = ["summary": run.summary, "at": iso8601(run.createdAt),
                                        "chart": SimulationChart.svg([(name: report.settings.selection.rawValue, report: report)],
                                                                     title: "Production accuracy on the test set, by simulated week")]
            }
        }
        return try pages.render("models", title: "Models", context: context, values: values, flash: request)
    }

    /// GET /models/compare?a=&b=: two adapters side by side (admin).
    @Sendable func comparePage(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context, request: request) { return refusal }
        let report: ComparisonReport
        do { report = try await compare(request) } catch let error as StoreError where error.code == .notFound || error.code == .invalid {
            return try pages.render("error", title: "Nothing to compare", context: context, values: ["message": error.message],
                                    status: error.code == .notFound ? .notFound : .badRequest)
        }
        let c = report.comparison
        func interval(_ i: Interval) -> String { String(format: "%.1f %% (%.1f–%.1f)", i.estimate * 100, i.lower * 100, i.upper * 100) }
        let sources = c.sources.map { s -> [String: Any] in
            ["name": s.name.replacingOccurrences(of: "_", with: " "), "n": s.n, "accA": interval(s.accuracyA), "accB": interval(s.accuracyB),
             "f1A": interval(s.macroF1A), "f1B": interval(s.macroF1B),
             "diff": pointsInterval(s.difference), "mcnemar": "\(s.mcnemar.candidateOnly) / \(s.mcnemar.baselineOnly)", "p": pValue(s.mcnemar.pValue)]
        }
        let confusions = c.confusionChanges.map { ["label": $0.label, "predicted": $0.predicted, "a": $0.countA, "b": $0.countB,
                                                   "delta": ($0.countB > $0.countA ? "+" : "") + String($0.countB - $0.countA)] as [String: Any] }
        let disagreements = report.disagreements.map { d -> [String: Any] in
            ["text": d.text, "a": d.a, "b": d.b, "label": d.label ?? "not reviewed yet", "reviewed": d.label != nil,
             "aRight": d.label == d.a, "bRight": d.label == d.b, "id": d.predictionID.uuidString.lowercased()]
        }
        var gate: [String: Any] = [:]
        if let g = report.gate {
            let figures = g.figures.sorted { $0.key < $1.key }.map { name, f -> [String: Any] in
                ["name": name.replacingOccurrences(of: "_", with: " "), "n": f.n,
                 "diff": pointsInterval(f.difference), "mcnemar": "\(f.mcnemar.candidateOnly) / \(f.mcnemar.baselineOnly)", "p": pValue(f.mcnemar.pValue),
                 "mdd": f.minimumDetectableDifference.map { String(format: "%.1f", $0 * 100) } ?? "–"]
            }
            gate = ["verdict": g.verdict.rawValue, "rule": g.rule, "stage": g.stage.rawValue, "reasons": g.reasons, "figures": figures,
                    "policy": "\(g.policy.mode.rawValue), α \(number(g.policy.significanceLevel)), at least \(g.policy.minimumPairedSamples) paired items, golden fall ≤ \(number(g.policy.maximumGoldenRegression)), intent recall fall ≤ \(number(g.policy.maximumRecallDrop))",
                    "shadowPredictions": g.shadowPredictions, "agreement": g.shadowAgreementRate.map { String(format: "%.1f %%", $0 * 100) } ?? "–"]
        }
        let values: [String: Any] = [
            "a": ["version": report.a.version, "status": report.a.status, "reason": report.a.statusReason],
            "b": ["version": report.b.version, "status": report.b.status, "reason": report.b.statusReason],
            "sources": sources, "intentChart": report.intentChart(), "intentCount": c.intents.count,
            "agreementChart": report.agreement.isEmpty ? "" : report.agreementChart(), "hasAgreement": !report.agreement.isEmpty,
            "confusions": confusions, "disagreements": disagreements, "gate": gate, "hasGate": report.gate != nil,
        ]
        return try pages.render("compare", title: "Compare \(report.b.version) with \(report.a.version)", context: context, values: values, flash: request)
    }
}

func percentText(_ fraction: String?) -> String {
    guard let fraction, let v = Double(fraction) else { return "" }
    return String(format: "%.1f %%", v * 100)
}

func number(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e9 ? String(Int(v)) : String(format: "%g", v)
}

func percentEncoded(_ s: String) -> String { s.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "" }
