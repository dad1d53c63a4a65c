import Logging
import Foundation
import Hummingbird
import IntentStore

/// The agent and admin web pages: plain HTML forms (no JavaScript needed), a session cookie
/// (HttpOnly, SameSite=Strict) and a CSRF token in every form.
struct WebRoutes {
    static let loginCSRFCookie = "il_login_csrf"
    let store: Store
    let pages: WebPages
    let secureCookies: Bool
    /// Checked instead of a real hash when the username is unknown (see `Passwords.decoy`).
    let decoyHash: String
    let logins: LoginGuard
    /// Predictions at least this confident are left out of the queue unless asked for.
    let confidentAbove: Float?

    func add(to router: Router<AppContext>) {
        router.get("/") { _, context in Response.redirect(context.user == nil ? "/login" : "/queue") }
        router.get("login", use: loginPage)
        router.post("login", use: login)
        router.post("logout", use: logout)
        router.get("queue", use: queue)
        router.get("submit", use: submitPage)
        router.post("submit", use: submit)
        router.get("history", use: history)
    }

    // MARK: session

    @Sendable func loginPage(_ request: Request, context: AppContext) async throws -> Response {
        let next = LocalPath.validated(request.uri.queryParameters["next"].map(String.init))
        if context.user != nil, context.session != nil { return .redirect(next ?? "/queue") }
        return try loginForm(context: context, error: nil, status: .ok, next: next)
    }

    /// The login page; `next` (a local path, see `LocalPath`) is where a successful login goes.
    func loginForm(context: AppContext, error: String?, status: HTTPResponse.Status, next: String? = nil) throws -> Response {
        let token = randomToken()
        var anonymous = context
        anonymous.user = nil
        let values: [String: Any] = ["loginCsrf": token, "error": error ?? false, "next": LocalPath.validated(next) ?? false]
        var response = try pages.render("login", title: "Log in", context: anonymous, values: values, status: status)
        response.setCookie(Cookie(name: Self.loginCSRFCookie, value: token, maxAge: 3600, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    struct LoginForm: Decodable {
        let username: String
        let password: String
        let csrf: String
        let next: String?
    }

    @Sendable func login(_ request: Request, context: AppContext) async throws -> Response {
        guard let form: LoginForm = try? await decodeForm(request, context: context) else {
            return try loginForm(context: context, error: "Enter a username and a password.", status: .badRequest)
        }
        guard let expected = request.cookies[Self.loginCSRFCookie]?.value, constantTimeEqual(expected, form.csrf) else {
            return try loginForm(context: context, error: "The form expired; please try again.", status: .forbidden, next: form.next)
        }
        let keys = [LoginThrottle.Key.username(form.username)] + (context.remoteAddress.map { [LoginThrottle.Key.client($0)] } ?? [])
        if let wait = logins.admit(keys) {
            context.logger.notice("login throttled", metadata: ["auth.username": "\(form.username.prefix(64))"])
            return try throttled(context: context, seconds: wait, next: form.next)
        }
        // A name that cannot exist is looked up as nobody (same decoy timing as an unknown user).
        let user: UserRecord?
        do { user = InputRules.validUsername(form.username) ? try await store.user(named: form.username) : nil } catch {
            logins.refund(keys)  // the database is away: the attempt never got to a password
            throw error
        }
        guard let valid = try await logins.withCheckSlot({ try await Passwords.verify(form.password, hash: user?.passwordHash ?? decoyHash, on: Passwords.loginPool) }) else {
            logins.refund(keys)
            var response = try loginForm(context: context, error: "Too many logins at once; try again in a moment.", status: .serviceUnavailable,
                                         next: form.next)
            response.headers[.retryAfter] = "1"
            return response
        }
        guard let user, valid, user.passwordHash != nil, user.role >= .agent else {
            context.logger.info("login refused", metadata: ["auth.username": "\(form.username.prefix(64))"])
            return try loginForm(context: context, error: "Unknown username or wrong password.", status: .unauthorized, next: form.next)
        }
        logins.succeeded(keys)
        let session = try await store.createSession(userID: user.id)
        let cookie = Cookie(name: AuthMiddleware.sessionCookie, value: session.token, maxAge: 12 * 3600, path: "/", secure: secureCookies,
                            httpOnly: true, sameSite: .strict)
        return .redirect(LocalPath.validated(form.next) ?? "/queue", cookies: [cookie])
    }

    /// 429 with Retry-After: the login page, saying how long to wait.
    func throttled(context: AppContext, seconds: Double, next: String? = nil) throws -> Response {
        let wait = max(1, Int(seconds.rounded(.up)))
        var response = try loginForm(context: context, error: "Too many failed logins; try again in \(wait) s.", status: .tooManyRequests, next: next)
        response.headers[.retryAfter] = "\(wait)"
        return response
    }

    @Sendable func logout(_ request: Request, context: AppContext) async throws -> Response {
        _ = try await requireForm(request, context: context, role: .agent) as Empty
        if let token = request.cookies[AuthMiddleware.sessionCookie]?.value { try await store.deleteSession(token: token) }
        return .redirect("/login", cookies: [Cookie(name: AuthMiddleware.sessionCookie, value: "", maxAge: 0, path: "/", secure: secureCookies,
                                                    httpOnly: true, sameSite: .strict)])
    }

    // MARK: pages

    /// The queue, a page of 50: counts, filters (a bad value is shown, not applied), identical
    /// utterances folded into one row, ticked rows confirmed at once, and the way into the
    /// one-at-a-time review.
    @Sendable func queue(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, let user = context.user, user.role >= .agent else { return .toLogin(returningTo: request) }
        let intents = try await store.intents().map(\.name)
        let query = QueueQuery(request, confidentAbove: confidentAbove, knownIntents: Set(intents))
        var errors = query.errors
        var page = 0
        do {
            page = try QueryParameter.integer(request.uri.queryParameters["page"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }, field: "page",
                                              in: 0...QueryParameter.maxPage) ?? 0
        } catch let error as APIError { errors["page"] = error.message }
        var filter = query.filter
        filter.offset = page * filter.limit
        async let total = store.reviewQueueCount(query.filter)
        async let today = store.reviewedSince(DashboardWindow.today(), agentID: user.id)
        let items = try await store.reviewQueue(filter)
        let identical = try await store.unreviewedCounts(texts: items.map(\.text))
        var seen = Set<String>()
        var rows: [[String: Any]] = []
        for p in items where seen.insert(p.text).inserted {
            let same = identical[p.text] ?? 1
            rows.append([
                // The queue shows the start of a long utterance (the prediction page has it all).
                "id": p.id.uuidString.lowercased(), "text": p.text.count > 300 ? p.text.prefix(300) + "…" : p.text,
                "intent": p.intent, "confidence": percent(p.confidence),
                "margin": percent(p.margin), "created": timestamp(p.createdAt), "identical": same > 1 ? same - 1 : false,
            ])
        }
        let totalCount = try await total
        let (mine, everyone) = try await today
        var values: [String: Any] = [
            "items": rows, "hasItems": !rows.isEmpty, "total": ReviewRoutes.countText(totalCount), "reviewedToday": everyone, "reviewedTodayMine": mine,
            "filter": ["intent": query.given["intent"] ?? "", "from": query.given["from"] ?? "", "to": query.given["to"] ?? "",
                       "min": query.given["min"] ?? "", "max": query.given["max"] ?? "", "all": query.given["all"] == "1"] as [String: Any],
            "filtered": query.isFiltered, "intents": intents.map { ["name": $0] },
            "reviewUrl": query.url("/review"), "return": query.url("/queue", page > 0 ? [("page", "\(page)")] : []),
            "pageNumber": page + 1,
            "pages": totalCount >= Store.queueCountCap ? "\(Store.queueCountCap / filter.limit)+" : "\(max(1, (totalCount + filter.limit - 1) / filter.limit))",
            "hidden": confidentAbove.map { percent($0) } ?? false,
        ]
        for (field, message) in errors { values["\(field)Error"] = message }
        if !errors.isEmpty { values["filterError"] = "Some filters were not applied; see the messages next to them." }
        if request.uri.queryParameters["saved"] != nil { values["notice"] = "Saved." }
        if page > 0 { values["previousPage"] = query.url("/queue", page > 1 ? [("page", "\(page - 1)")] : []) }
        if items.count == filter.limit && (filter.offset + items.count < totalCount || totalCount >= Store.queueCountCap) { values["nextPage"] = query.url("/queue", [("page", "\(page + 1)")]) }
        return try pages.render("queue", title: "Review queue", context: context, values: values, status: errors.isEmpty ? .ok : .badRequest,
                                flash: request)
    }

    @Sendable func submitPage(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .toLogin(returningTo: request) }
        let q = request.uri.queryParameters
        var typed = SubmitTyped()
        typed.text = String(q["text"].map(String.init)?.prefix(InputRules.maxTextScalars) ?? "")
        typed.intent = String(q["intent"].map(String.init)?.prefix(200) ?? "")
        typed.note = String(q["note"].map(String.init)?.prefix(InputRules.maxTextScalars) ?? "")
        typed.propose = q["propose"] != nil
        return try await submitForm(context: context, typed: typed, notice: q["saved"] != nil ? "Saved." : nil, flash: request)
    }

    /// What the agent typed into the submit form, kept across errors and logins.
    struct SubmitTyped {
        var text = "", intent = "", note = ""
        var propose = false

        var queryItems: [URLQueryItem] {
            [("text", text), ("intent", intent), ("note", note)].filter { !$0.1.isEmpty }.map { URLQueryItem(name: $0.0, value: $0.1) }
                + (propose ? [URLQueryItem(name: "propose", value: "1")] : [])
        }
    }

    func submitForm(context: AppContext, typed: SubmitTyped, errors: [String: String] = [:], notice: String? = nil,
                    status: HTTPResponse.Status = .ok, flash: Request? = nil) async throws -> Response {
        var values: [String: Any] = ["intents": try await intentOptions(), "typedText": typed.text, "typedIntent": typed.intent,
                                     "typedNote": typed.note, "typedPropose": typed.propose]
        for (field, message) in errors { values["\(field)Error"] = message }
        if let notice { values["notice"] = notice }
        return try pages.render("submit", title: "Submit an utterance", context: context, values: values, status: status, flash: flash)
    }

    /// POST /submit. Refused: the form again with what was typed and the message at its field;
    /// no session: log in, then the form filled in again.
    @Sendable func submit(_ request: Request, context: AppContext) async throws -> Response {
        let fields = FormFields(String(buffer: try await request.body.collect(upTo: 64 << 10)))
        var typed = SubmitTyped()
        typed.text = fields["text"] ?? ""
        typed.intent = (fields["intent"] ?? "").trimmingCharacters(in: .whitespaces)
        typed.note = fields["note"] ?? ""
        typed.propose = fields["propose"] != nil
        guard let session = context.session, session.user.role >= .agent else {
            var again = URLComponents()
            again.path = "/submit"
            // Cut to the longest text the form takes (its maxlength), so that the way back fits in a redirect.
            typed.text = String(typed.text.prefix(InputRules.maxTextScalars))
            typed.note = String(typed.note.prefix(InputRules.maxTextScalars))
            again.queryItems = typed.queryItems
            return .toLogin(returningTo: again.string ?? "/submit")
        }
        guard let token = fields["csrf"], constantTimeEqual(token, session.csrfToken) else {
            return try await submitForm(context: context, typed: typed,
                                        errors: ["form": FormProblem.expired], status: .forbidden)
        }
        do {
            _ = try await store.submit(text: typed.text, intent: typed.intent, agentID: session.user.id, note: typed.note, propose: typed.propose)
        } catch let error as StoreError where error.code == .invalid || error.code == .conflict {
            let problem = FormProblem.of(error, inputs: ["text", "intent", "note"])
            return try await submitForm(context: context, typed: typed, errors: [problem.field: problem.message], status: .unprocessableContent)
        }
        ServerMetrics.current?.recordFeedback(.submit)
        return .redirect("/submit?saved=1")
    }

    @Sendable func history(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, let user = context.user, user.role >= .agent else { return .toLogin(returningTo: request) }
        // Each row with its intent's status now: a proposal still waiting for an admin is marked.
        let items = try await store.historyWithIntentStatus(agentID: user.id).map { item -> [String: Any] in
            let f = item.feedback
            return ["predictionId": f.predictionID.map { $0.uuidString.lowercased() } ?? false, "text": f.text, "verdict": f.verdict.rawValue,
                    "intent": f.intent, "predicted": f.predictedIntent ?? "", "note": f.note, "created": timestamp(f.createdAt),
                    "pending": item.intentStatus == .proposed,
                    "inactive": item.intentStatus == .rejected || item.intentStatus == .retired ? item.intentStatus!.rawValue : false]
        }
        return try pages.render("history", title: "My history", context: context, values: ["items": items])
    }

    // MARK: helpers

    struct Empty: Decodable {}

    /// A form POST from a logged-in user of at least `role`, carrying the session's CSRF token.
    func requireForm<T: Decodable>(_ request: Request, context: AppContext, role: Role) async throws -> T {
        guard let session = context.session else { throw APIError(.unauthorized, code: "unauthenticated", "log in first") }
        guard session.user.role >= role else { throw APIError.forbidden }
        let body = String(buffer: try await request.body.collect(upTo: 64 << 10))
        let fields = (try? URLEncodedFormDecoder().decode([String: String].self, from: body)) ?? [:]
        guard let token = fields["csrf"], constantTimeEqual(token, session.csrfToken) else {
            throw APIError(.forbidden, code: "csrf", "missing or wrong CSRF token: reload the page and try again", field: "csrf")
        }
        do { return try URLEncodedFormDecoder().decode(T.self, from: body) } catch let error as DecodingError {
            throw APIError.invalid(error.fieldName, "the form is incomplete: \(error.summary)")
        }
    }

    func decodeForm<T: Decodable>(_ request: Request, context: AppContext) async throws -> T {
        let body = String(buffer: try await request.body.collect(upTo: 64 << 10))
        return try URLEncodedFormDecoder().decode(T.self, from: body)
    }

    func intentOptions() async throws -> [[String: String]] {
        try await store.intents().map { ["name": $0.name] }
    }
}

func percent(_ x: Float) -> String { String(format: "%.1f%%", Double(x) * 100) }

func timestamp(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
    return f.string(from: date) + " UTC"
}

/// Compares secrets in time independent of where they differ.
func constantTimeEqual(_ a: String, _ b: String) -> Bool {
    let x = Array(a.utf8), y = Array(b.utf8)
    guard x.count == y.count else { return false }
    var diff: UInt8 = 0
    for i in 0..<x.count { diff |= x[i] ^ y[i] }
    return diff == 0
}
