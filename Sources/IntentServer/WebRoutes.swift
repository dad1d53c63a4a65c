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

    func add(to router: Router<AppContext>) {
        router.get("/") { _, context in Response.redirect(context.user == nil ? "/login" : "/queue") }
        router.get("login", use: loginPage)
        router.post("login", use: login)
        router.post("logout", use: logout)
        router.get("queue", use: queue)
        router.get("predictions/:id", use: prediction)
        router.post("predictions/:id/feedback", use: review)
        router.get("submit", use: submitPage)
        router.post("submit", use: submit)
        router.get("history", use: history)
        router.get("admin/intents", use: proposedIntents)
        router.post("admin/intents/decide", use: decide)
    }

    // MARK: session

    @Sendable func loginPage(_ request: Request, context: AppContext) async throws -> Response {
        if context.user != nil, context.session != nil { return .redirect("/queue") }
        return try loginForm(context: context, error: nil, status: .ok)
    }

    func loginForm(context: AppContext, error: String?, status: HTTPResponse.Status) throws -> Response {
        let token = randomToken()
        var anonymous = context
        anonymous.user = nil
        var response = try pages.render("login", title: "Log in", context: anonymous, values: ["loginCsrf": token, "error": error ?? false], status: status)
        response.setCookie(Cookie(name: Self.loginCSRFCookie, value: token, maxAge: 3600, path: "/login", secure: secureCookies, httpOnly: true, sameSite: .strict))
        return response
    }

    struct LoginForm: Decodable {
        let username: String
        let password: String
        let csrf: String
    }

    @Sendable func login(_ request: Request, context: AppContext) async throws -> Response {
        guard let form: LoginForm = try? await decodeForm(request, context: context) else {
            return try loginForm(context: context, error: "Enter a username and a password.", status: .badRequest)
        }
        guard let expected = request.cookies[Self.loginCSRFCookie]?.value, constantTimeEqual(expected, form.csrf) else {
            return try loginForm(context: context, error: "The form expired; please try again.", status: .forbidden)
        }
        let keys = [LoginThrottle.Key.username(form.username)] + (context.remoteAddress.map { [LoginThrottle.Key.client($0)] } ?? [])
        if let wait = logins.admit(keys) {
            context.logger.notice("login throttled", metadata: ["auth.username": "\(form.username.prefix(64))"])
            return try throttled(context: context, seconds: wait)
        }
        // A name that cannot exist is looked up as nobody (same decoy timing as an unknown user).
        let user: UserRecord?
        do { user = InputRules.validUsername(form.username) ? try await store.user(named: form.username) : nil } catch {
            logins.refund(keys)  // the database is away: the attempt never got to a password
            throw error
        }
        guard let valid = try await logins.withCheckSlot({ try await Passwords.verify(form.password, hash: user?.passwordHash ?? decoyHash, on: Passwords.loginPool) }) else {
            logins.refund(keys)
            var response = try loginForm(context: context, error: "Too many logins at once; try again in a moment.", status: .serviceUnavailable)
            response.headers[.retryAfter] = "1"
            return response
        }
        guard let user, valid, user.passwordHash != nil, user.role >= .agent else {
            context.logger.info("login refused", metadata: ["auth.username": "\(form.username.prefix(64))"])
            return try loginForm(context: context, error: "Unknown username or wrong password.", status: .unauthorized)
        }
        logins.succeeded(keys)
        let session = try await store.createSession(userID: user.id)
        let cookie = Cookie(name: AuthMiddleware.sessionCookie, value: session.token, maxAge: 12 * 3600, path: "/", secure: secureCookies,
                            httpOnly: true, sameSite: .strict)
        return .redirect("/queue", cookies: [cookie])
    }

    /// 429 with Retry-After: the login page, saying how long to wait.
    func throttled(context: AppContext, seconds: Double) throws -> Response {
        let wait = max(1, Int(seconds.rounded(.up)))
        var response = try loginForm(context: context, error: "Too many failed logins; try again in \(wait) s.", status: .tooManyRequests)
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

    @Sendable func queue(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .redirect("/login") }
        let q = request.uri.queryParameters
        var filter = QueueFilter()
        func text(_ key: String) -> String? { q[Substring(key)].map(String.init).flatMap { $0.isEmpty ? nil : $0 } }
        filter.intent = text("intent")
        if let intent = filter.intent, !InputRules.validIntentName(intent) { throw APIError.invalid("intent", "not an intent name") }
        let day = DateFormatter()
        day.dateFormat = "yyyy-MM-dd"
        day.timeZone = TimeZone(identifier: "UTC")
        filter.from = try QueryParameter.date(text("from"), field: "from", formatter: day)
        filter.to = try QueryParameter.date(text("to"), field: "to", formatter: day).map { $0.addingTimeInterval(86400) }
        filter.minConfidence = try QueryParameter.fraction(text("min"), field: "min")
        filter.maxConfidence = try QueryParameter.fraction(text("max"), field: "max")
        let page = try QueryParameter.integer(text("page"), field: "page", in: 0...QueryParameter.maxPage) ?? 0
        filter.offset = page * filter.limit
        let items = try await store.reviewQueue(filter)
        var values: [String: Any] = [
            "items": items.map { ["id": $0.id.uuidString.lowercased(), "text": $0.text, "intent": $0.intent, "confidence": percent($0.confidence),
                                  "margin": percent($0.margin), "created": timestamp($0.createdAt)] },
            "filter": ["intent": filter.intent ?? "", "from": text("from") ?? "", "to": text("to") ?? "", "min": text("min") ?? "", "max": text("max") ?? ""],
            "intents": try await intentOptions(),
        ]
        if text("saved") != nil { values["notice"] = "Saved." }
        if items.count == filter.limit {
            var next = URLComponents()
            next.path = "/queue"
            next.queryItems = ["intent", "from", "to", "min", "max"].compactMap { k in text(k).map { URLQueryItem(name: k, value: $0) } }
                + [URLQueryItem(name: "page", value: "\(page + 1)")]
            values["nextPage"] = next.string ?? ""
        }
        return try pages.render("queue", title: "Review queue", context: context, values: values)
    }

    @Sendable func prediction(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .redirect("/login") }
        guard let id = context.parameters.get("id", as: UUID.self), let p = try await store.prediction(id: id) else {
            return try pages.render("error", title: "No such prediction", context: context, status: .notFound)
        }
        var values: [String: Any] = [
            "id": p.id.uuidString.lowercased(), "text": p.text, "intent": p.intent, "confidence": percent(p.confidence), "version": p.adapterVersion,
            "created": timestamp(p.createdAt), "top": p.topK.map { ["intent": $0.intent, "confidence": percent($0.confidence)] },
            "intents": try await intentOptions(),
        ]
        if let f = try await store.feedback(predictionID: id) {
            values["feedback"] = ["verdict": f.verdict.rawValue, "intent": f.intent, "note": f.note.isEmpty ? false : f.note] as [String: Any]
        }
        return try pages.render("prediction", title: "Prediction", context: context, values: values, flash: request)
    }

    struct ReviewForm: Decodable {
        let verdict: String
        let intent: String?
        let note: String?
        let propose: String?
    }

    @Sendable func review(_ request: Request, context: AppContext) async throws -> Response {
        let form: ReviewForm = try await requireForm(request, context: context, role: .agent)
        guard let session = context.session else { throw APIError.unauthenticated }
        guard let id = context.parameters.get("id", as: UUID.self) else { throw APIError.invalid("id", "not a prediction id") }
        guard let verdict = Verdict(rawValue: form.verdict), verdict != .submit else { throw APIError.invalid("verdict", "verdict must be confirm or correct") }
        let intent = form.intent?.trimmingCharacters(in: .whitespaces)
        do {
            _ = try await store.review(predictionID: id, agentID: session.user.id, verdict: verdict, intent: intent?.isEmpty == true ? nil : intent,
                                       note: form.note ?? "", propose: form.propose != nil)
        } catch let error as StoreError where error.code == .invalid || error.code == .conflict {
            return .redirect(to: "/predictions/\(id.uuidString.lowercased())", error: error.message)
        }
        return .redirect("/queue?saved=1")
    }

    @Sendable func submitPage(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, (context.user?.role ?? .client) >= .agent else { return .redirect("/login") }
        var values: [String: Any] = ["intents": try await intentOptions()]
        if request.uri.queryParameters["saved"] != nil { values["notice"] = "Saved." }
        return try pages.render("submit", title: "Submit an utterance", context: context, values: values, flash: request)
    }

    struct SubmitForm: Decodable {
        let text: String
        let intent: String
        let note: String?
        let propose: String?
    }

    @Sendable func submit(_ request: Request, context: AppContext) async throws -> Response {
        let form: SubmitForm = try await requireForm(request, context: context, role: .agent)
        guard let session = context.session else { throw APIError.unauthenticated }
        do {
            _ = try await store.submit(text: form.text, intent: form.intent.trimmingCharacters(in: .whitespaces), agentID: session.user.id,
                                       note: form.note ?? "", propose: form.propose != nil)
        } catch let error as StoreError where error.code == .invalid || error.code == .conflict {
            return .redirect(to: "/submit", error: error.message)
        }
        return .redirect("/submit?saved=1")
    }

    @Sendable func history(_ request: Request, context: AppContext) async throws -> Response {
        guard context.session != nil, let user = context.user, user.role >= .agent else { return .redirect("/login") }
        let items = try await store.history(agentID: user.id).map { f -> [String: Any] in
            ["predictionId": f.predictionID.map { $0.uuidString.lowercased() } ?? false, "text": f.text, "verdict": f.verdict.rawValue,
             "intent": f.intent, "predicted": f.predictedIntent ?? "", "note": f.note, "created": timestamp(f.createdAt)]
        }
        return try pages.render("history", title: "My history", context: context, values: ["items": items])
    }

    @Sendable func proposedIntents(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context) { return refusal }
        let csrf = context.session?.csrfToken ?? ""
        let items = try await store.intents(includeProposed: true).filter { $0.status != .active }.map { i -> [String: Any] in
            ["name": i.name, "status": i.status.rawValue, "proposed": i.status == .proposed, "csrf": csrf]
        }
        return try pages.render("intents", title: "Proposed intents", context: context, values: ["items": items])
    }

    struct DecisionForm: Decodable {
        let name: String
        let decision: String
    }

    /// POST /admin/intents/decide with the intent's name in the form (names may contain `/`,
    /// which a path segment cannot carry).
    @Sendable func decide(_ request: Request, context: AppContext) async throws -> Response {
        let form: DecisionForm = try await requireForm(request, context: context, role: .admin)
        guard let session = context.session else { throw APIError.unauthenticated }
        guard ["approve", "reject"].contains(form.decision) else { throw APIError.invalid("decision", "approve or reject") }
        guard InputRules.validIntentName(form.name) else { throw APIError.invalid("name", "not an intent name") }
        try await store.decideIntent(form.name, approve: form.decision == "approve", by: session.user.id)
        return .redirect("/admin/intents")
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
