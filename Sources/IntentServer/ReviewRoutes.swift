import Foundation
import Hummingbird
import IntentStore

/// Reviewing predictions one at a time: the review page (the queue's next item, its position,
/// one-click top-k alternatives, keys from web/static/review.js), the prediction page (the same
/// form for one prediction), verdicts, undo, and confirming several queue rows at once.
///
/// Every form works without JavaScript. A form that fails comes back with what was typed and
/// the message next to its field; an expired session sends the agent to log in and back to the
/// same form, filled in again; an expired CSRF token shows the form again with a fresh one.
struct ReviewRoutes {
    let store: Store
    let pages: WebPages
    let confidentAbove: Float?
    let undoWindow: Duration
    /// Most identical utterances one verdict is applied to (each is its own stored verdict).
    static let groupLimit = 200

    func add(to router: Router<AppContext>) {
        router.get("review", use: reviewPage)
        router.get("predictions/:id", use: predictionPage)
        router.post("predictions/:id/feedback", use: verdict)
        router.post("predictions/:id/feedback/undo", use: undo)
        router.post("queue/confirm", use: confirmSelected)
    }

    /// What the agent typed into the correction form (kept across errors and logins).
    struct Typed {
        var intent = ""
        var note = ""
        var propose = false
        var group = false

        init() {}

        /// As sent: the store checks the lengths (a note cut here would be stored cut, silently).
        init(_ fields: FormFields) {
            intent = (fields["intent"] ?? "").trimmingCharacters(in: .whitespaces)
            note = fields["note"] ?? ""
            propose = fields["propose"] != nil
            group = fields["group"] != nil
        }

        /// From a link (the login's way back to an interrupted form). "Apply to the identical
        /// ones" is never ticked by a link: one click on a crafted link must not label hundreds.
        init(query request: Request) {
            let q = request.uri.queryParameters
            intent = String(q["intent"].map(String.init)?.prefix(200) ?? "")
            note = String(q["note"].map(String.init)?.prefix(InputRules.maxTextScalars) ?? "")
            propose = q["propose"] != nil
        }

        var queryItems: [(String, String)] {
            var items: [(String, String)] = []
            if !intent.isEmpty { items.append(("intent", intent)) }
            if !note.isEmpty { items.append(("note", note)) }
            if propose { items.append(("propose", "1")) }
            if group { items.append(("group", "1")) }
            return items
        }
    }

    /// Where the review of the queue goes on: the review page at `offset` with the filters.
    struct ReviewPosition {
        var query: QueueQuery
        var offset: Int

        var url: String { query.url("/review", offset > 0 ? [("offset", "\(offset)")] : []) }
    }

    // MARK: pages

    @Sendable func reviewPage(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .toLogin(returningTo: request) }
        let intents = try await store.intents().map(\.name)
        let query = QueueQuery(request, confidentAbove: confidentAbove, knownIntents: Set(intents))
        let rawOffset = request.uri.queryParameters["offset"].map(String.init)
        let offset = rawOffset.flatMap { Int($0) }.map { min(max($0, 0), QueryParameter.maxPage) } ?? 0
        var filter = query.filter
        filter.limit = 1
        filter.offset = offset
        let position = ReviewPosition(query: query, offset: offset)
        async let total = store.reviewQueueCount(query.filter)
        let item = try await store.reviewQueue(filter).first
        var values: [String: Any] = ["intents": intents.map { ["name": $0] }, "queueUrl": query.url("/queue"), "review": true]
        values["total"] = Self.countText(try await total)
        if !query.errors.isEmpty {
            values["filterError"] = "Some filters were not applied (" + query.errors.sorted { $0.key < $1.key }.map(\.value).joined(separator: "; ") + ")."
        }
        if let last = request.uri.queryParameters["last"].flatMap({ UUID(uuidString: String($0)) }),
           let f = try await store.feedback(predictionID: last), Date().timeIntervalSince(f.createdAt) < undoWindow.seconds {
            values["undo"] = ["id": last.uuidString.lowercased(), "verdict": f.verdict.rawValue, "intent": f.intent, "return": position.url] as [String: Any]
        }
        guard let item else {
            values["empty"] = true
            values["position"] = offset + 1
            if offset > 0 { values["restartUrl"] = query.url("/review") }
            return try pages.render("review", title: "Review", context: context, values: values, flash: request)
        }
        values.merge(try await predictionValues(item, typed: Typed()), uniquingKeysWith: { $1 })
        values["position"] = offset + 1
        values["return"] = position.url
        values["skipUrl"] = ReviewPosition(query: query, offset: offset + 1).url
        return try pages.render("review", title: "Review", context: context, values: values, flash: request)
    }

    @Sendable func predictionPage(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .toLogin(returningTo: request) }
        guard let id = context.parameters.get("id", as: UUID.self), let p = try await store.prediction(id: id) else {
            return try pages.render("error", title: "No such prediction", context: context,
                                    values: ["message": "There is no prediction with this address."], status: .notFound)
        }
        let back = LocalPath.validated(request.uri.queryParameters["return"].map(String.init)).flatMap { $0.hasPrefix("/review") ? $0 : nil }
        return try await render(p, context: context, typed: Typed(query: request), returnTo: back, flash: request)
    }

    /// The review template for one prediction, outside the queue's walk (`returnTo` nil) or
    /// within it (the verdict goes on to `returnTo`).
    func render(_ p: PredictionRecord, context: AppContext, typed: Typed, returnTo: String?, errors: [String: String] = [:],
                status: HTTPResponse.Status = .ok, flash: Request? = nil) async throws -> Response {
        var values = try await predictionValues(p, typed: typed)
        values["intents"] = try await store.intents().map { ["name": $0.name] }
        if let returnTo {
            values["return"] = returnTo
            values["continueUrl"] = returnTo
            values["queueUrl"] = "/queue"
        }
        if let message = errors["intent"] { values["intentError"] = message }
        if let message = errors["note"] { values["noteError"] = message }
        if let message = errors["form"] { values["formError"] = message }
        return try pages.render("review", title: "Prediction", context: context, values: values, status: status, flash: flash)
    }

    /// The values the review template shows for `p`: the utterance, the model's answer, its
    /// alternatives as one-click verdicts, identical unreviewed utterances, the verdict if any.
    func predictionValues(_ p: PredictionRecord, typed: Typed) async throws -> [String: Any] {
        var values: [String: Any] = [
            "id": p.id.uuidString.lowercased(), "text": p.text, "intent": p.intent, "confidence": percent(p.confidence),
            "version": p.adapterVersion, "created": timestamp(p.createdAt),
            "alternatives": p.topK.prefix(5).enumerated().map { i, s -> [String: Any] in
                ["key": i + 1, "intent": s.intent, "confidence": percent(s.confidence), "predicted": s.intent == p.intent,
                 "verdict": s.intent == p.intent ? "confirm" : "correct"]
            },
            "typedIntent": typed.intent, "typedNote": typed.note, "typedPropose": typed.propose, "typedGroup": typed.group,
        ]
        if let f = try await store.feedback(predictionID: p.id) {
            values["feedback"] = ["verdict": f.verdict.rawValue, "intent": f.intent, "note": f.note.isEmpty ? false : f.note] as [String: Any]
        } else if let same = try await store.unreviewedCounts(texts: [p.text], cap: Self.groupLimit + 1)[p.text], same > 1 {
            values["identical"] = same - 1  // at most groupLimit: what one verdict applies to
        }
        return values
    }

    // MARK: verdicts

    @Sendable func verdict(_ request: Request, context: AppContext) async throws -> Response {
        guard let id = context.parameters.get("id", as: UUID.self) else { throw APIError.invalid("id", "not a prediction id") }
        let fields = FormFields(String(buffer: try await request.body.collect(upTo: 64 << 10)))
        let typed = Typed(fields)
        let returnTo = LocalPath.validated(fields["return"]).flatMap { $0.hasPrefix("/review") ? $0 : nil }
        let page = "/predictions/\(id.uuidString.lowercased())"
        guard let session = context.session, session.user.role >= .agent else {
            // Logged out meanwhile: log in, then the same form, filled in again.
            var again = URLComponents()
            again.path = page
            again.queryItems = (typed.queryItems + (returnTo.map { [("return", $0)] } ?? [])).map { URLQueryItem(name: $0.0, value: $0.1) }
            return .toLogin(returningTo: again.string ?? page)
        }
        guard let prediction = try await store.prediction(id: id) else {
            return try pages.render("error", title: "No such prediction", context: context,
                                    values: ["message": "There is no prediction with this address."], status: .notFound)
        }
        guard let token = fields["csrf"], constantTimeEqual(token, session.csrfToken) else {
            return try await render(prediction, context: context, typed: typed, returnTo: returnTo,
                                    errors: ["form": FormProblem.expired], status: .forbidden)
        }
        let verdict: Verdict
        switch fields["verdict"] {
        case "confirm": verdict = .confirm
        case "correct": verdict = .correct
        default:
            return try await render(prediction, context: context, typed: typed, returnTo: returnTo,
                                    errors: ["form": "Choose confirm or correct."], status: .unprocessableContent)
        }
        let intent = verdict == .confirm ? (typed.intent.isEmpty ? nil : typed.intent) : typed.intent
        let stored: FeedbackRecord
        do {
            stored = try await store.review(predictionID: id, agentID: session.user.id, verdict: verdict, intent: intent, note: typed.note,
                                            propose: typed.propose)
        } catch let error as StoreError where error.code == .invalid || error.code == .conflict {
            let problem = FormProblem.of(error, inputs: ["intent", "note"])
            return try await render(prediction, context: context, typed: typed, returnTo: returnTo, errors: [problem.field: problem.message],
                                    status: error.code == .conflict ? .conflict : .unprocessableContent)
        }
        ServerMetrics.current?.recordFeedback(stored.verdict)
        var notice = "Saved: \(stored.verdict.rawValue) as \(stored.intent)."
        if typed.group {
            // The identical ones all or none, in one transaction of their own.
            do {
                let others = try await store.unreviewedPredictions(withText: prediction.text, limit: Self.groupLimit).map(\.id)
                let (more, skipped) = try await store.reviewMany(predictionIDs: others, intent: stored.intent, agentID: session.user.id,
                                                                 note: typed.note)
                Self.count(more)
                notice += " Also \(more.count) identical utterance\(more.count == 1 ? "" : "s") as \(stored.intent)"
                    + (skipped > 0 ? " (\(skipped) reviewed meanwhile)" : "") + "; undo takes back only this one."
            } catch let error as StoreError where error.code == .invalid || error.code == .conflict {
                notice += " The identical utterances were not saved: \(error.message)."
            }
        }
        guard let returnTo else { return .redirect(to: "/queue", notice: notice) }
        return .redirect(to: Self.replacing("last", with: id.uuidString.lowercased(), in: returnTo), notice: notice)
    }

    /// POST /predictions/:id/feedback/undo: the agent's own verdict, within `undoWindow`.
    @Sendable func undo(_ request: Request, context: AppContext) async throws -> Response {
        guard let id = context.parameters.get("id", as: UUID.self) else { throw APIError.invalid("id", "not a prediction id") }
        let fields = FormFields(String(buffer: try await request.body.collect(upTo: 64 << 10)))
        let back = LocalPath.validated(fields["return"]).flatMap { $0.hasPrefix("/review") ? $0 : nil } ?? "/predictions/\(id.uuidString.lowercased())"
        guard let session = context.session, session.user.role >= .agent else { return .toLogin(returningTo: back) }
        guard let token = fields["csrf"], constantTimeEqual(token, session.csrfToken) else {
            return .redirect(to: back, error: "The form had expired; press undo again.")
        }
        let seconds = Int(undoWindow.seconds)
        guard let removed = try await store.undoReview(predictionID: id, agentID: session.user.id, window: undoWindow) else {
            return .redirect(to: Self.replacing("last", with: nil, in: back),
                             error: "Nothing to undo: only your own verdict of the last \(seconds) s can be taken back.")
        }
        return .redirect(to: Self.replacing("last", with: nil, in: back), notice: "Undone: \(removed.verdict.rawValue) as \(removed.intent). The prediction is back in the queue.")
    }

    /// POST /queue/confirm: the ticked rows (`id`, repeated) confirmed as predicted, one verdict each.
    @Sendable func confirmSelected(_ request: Request, context: AppContext) async throws -> Response {
        let fields = FormFields(String(buffer: try await request.body.collect(upTo: 64 << 10)))
        let back = LocalPath.validated(fields["return"]).flatMap { $0.hasPrefix("/queue") ? $0 : nil } ?? "/queue"
        guard let session = context.session, session.user.role >= .agent else { return .toLogin(returningTo: back) }
        guard let token = fields["csrf"], constantTimeEqual(token, session.csrfToken) else {
            return .redirect(to: back, error: "The form had expired; tick the rows again and confirm.")
        }
        let raw = fields.all("id")
        let ids = raw.compactMap { UUID(uuidString: $0) }
        guard !ids.isEmpty else { return .redirect(to: back, error: "Tick at least one row to confirm.") }
        guard ids.count == raw.count, ids.count <= 200 else { return .redirect(to: back, error: "Up to 200 rows, each a prediction of the queue.") }
        let (confirmed, skipped) = try await store.reviewMany(predictionIDs: ids, intent: nil, agentID: session.user.id)
        Self.count(confirmed)
        let stored = confirmed.count
        return .redirect(to: back, notice: "Confirmed \(stored) prediction\(stored == 1 ? "" : "s")" + (skipped > 0 ? "; \(skipped) had been reviewed already." : "."))
    }

    /// The queue's size as the pages print it ("10000+" at the count's cap).
    static func countText(_ n: Int) -> String { n >= Store.queueCountCap ? "\(Store.queueCountCap)+" : "\(n)" }

    /// Verdicts stored several at once, in the feedback metrics.
    static func count(_ verdicts: [FeedbackRecord]) {
        for verdict in [Verdict.confirm, .correct] { ServerMetrics.current?.recordFeedback(verdict, count: verdicts.filter { $0.verdict == verdict }.count) }
    }

    /// `url` with its query item `name` set to `value` (removed when nil).
    static func replacing(_ name: String, with value: String?, in url: String) -> String {
        guard var c = URLComponents(string: url) else { return url }
        var items = (c.queryItems ?? []).filter { $0.name != name }
        if let value { items.append(URLQueryItem(name: name, value: value)) }
        c.queryItems = items.isEmpty ? nil : items
        return c.string ?? url
    }
}
