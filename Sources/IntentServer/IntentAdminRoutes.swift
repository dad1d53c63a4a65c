import Foundation
import Hummingbird
import IntentStore

/// The admin's intents page: each proposal from the agents with its context (who proposed it,
/// its description, how many verdicts name it, the latest utterances with their notes) and what
/// an admin may do with it (approve, reject after a confirmation, rename, merge into an active
/// intent); below, the intents decided lately. Plain HTML forms, no JavaScript.
struct IntentAdminRoutes {
    let store: Store
    let pages: WebPages

    /// Proposals shown (oldest first), and the latest utterances shown for each.
    static let proposalLimit = 100
    static let utterancesEach = 5
    static let decidedLimit = 50

    func add(to router: Router<AppContext>, forms: WebRoutes) {
        router.get("admin/intents", use: proposedIntents)
        router.post("admin/intents/decide") { request, context in try await decide(request, context: context, forms: forms) }
    }

    @Sendable func proposedIntents(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context, request: request) { return refusal }
        return try await page(context: context, flash: request)
    }

    /// The page, with `error` shown (and answered with `status`) after a refused form.
    func page(context: AppContext, flash: Request? = nil, error: String? = nil, status: HTTPResponse.Status = .ok) async throws -> Response {
        let (proposals, total) = try await store.intentProposals(limit: Self.proposalLimit, utterances: Self.utterancesEach)
        let decided = try await store.decidedIntents(limit: Self.decidedLimit)
        let targets = try await store.intents().map { ["name": $0.name] }
        let items = proposals.map { p -> [String: Any] in
            var item = Self.values(p)
            item["targets"] = targets
            item["hasTargets"] = !targets.isEmpty
            return item
        }
        let decidedItems = decided.map { d -> [String: Any] in
            let outcome = switch d.status {
            case .active: "approved"
            case .rejected: d.mergedInto.map { _ in "merged" } ?? "rejected"
            case .retired: "retired"
            case .proposed: "proposed"
            }
            return ["name": d.name, "outcome": outcome, "mergedInto": d.mergedInto ?? false, "decidedBy": d.decidedBy ?? "(import)",
                    "decided": d.decidedAt.map(timestamp) ?? "", "proposedBy": d.proposedBy ?? "", "count": d.feedbackCount]
        }
        var values: [String: Any] = [
            "proposals": items, "decided": decidedItems, "total": total,
            "truncated": total > proposals.count ? proposals.count : false,
        ]
        if let error { values["error"] = error }
        return try pages.render("intents", title: "Proposed intents", context: context, values: values, status: status, flash: flash)
    }

    struct DecisionForm: Decodable {
        let name: String?
        let decision: String?
        /// "yes" from the rejection's confirmation page.
        let confirm: String?
        let newName: String?
        let target: String?

        enum CodingKeys: String, CodingKey {
            case name, decision, confirm, target
            case newName = "new_name"
        }
    }

    /// POST /admin/intents/decide with the intent's name in the form (names may contain `/`,
    /// which a path segment cannot carry) and `decision`: approve; reject (answered with a
    /// confirmation page unless `confirm=yes`); rename (`new_name`); merge (`target`, an active
    /// intent). Done: a redirect to the page with a notice. Refused: the page with the reason (4xx).
    func decide(_ request: Request, context: AppContext, forms: WebRoutes) async throws -> Response {
        let form: DecisionForm = try await forms.requireForm(request, context: context, role: .admin)
        guard let session = context.session else { throw APIError.unauthenticated }
        func refuse(_ message: String, _ status: HTTPResponse.Status = .badRequest) async throws -> Response {
            try await page(context: context, error: message, status: status)
        }
        guard let name = form.name, !name.isEmpty else { return try await refuse("The form names no proposal: reload the page and try again.") }
        guard InputRules.validIntentName(name) else {
            return try await refuse("That is not an intent name (1–100 letters, digits or _.:/-): reload the page and try again.")
        }
        let decision = form.decision ?? ""
        do {
            switch decision {
            case "approve":
                let count = try await store.decideIntent(name, approve: true, by: session.user.id)
                let notice = count > 0
                    ? "Approved: the next adapter will learn \(name) (from \(count) utterance\(count == 1 ? "" : "s") so far)."
                    : "Approved: the next adapter will learn \(name) once agents have labelled utterances with it (none yet)."
                return .redirect(to: "/admin/intents", notice: notice)
            case "reject":
                guard form.confirm == "yes" else { return try await confirmRejection(name, context: context) }
                let count = try await store.decideIntent(name, approve: false, by: session.user.id)
                return .redirect(to: "/admin/intents", notice: "Rejected \(name): its \(count) utterance\(count == 1 ? "" : "s") will not be trained on.")
            case "rename":
                let newName = (form.newName ?? "").trimmingCharacters(in: .whitespaces)
                guard !newName.isEmpty else { return try await refuse("Enter the new name for \(name).") }
                if let problem = Store.newIntentNameProblem(newName) { return try await refuse("The new name \(problem).") }
                let moved = try await store.renameProposedIntent(name, to: newName, by: session.user.id)
                return .redirect(to: "/admin/intents", notice: "Renamed \(name) to \(newName); \(moved) utterance\(moved == 1 ? "" : "s") moved with it.")
            case "merge":
                let target = form.target ?? ""
                guard !target.isEmpty else { return try await refuse("Choose the intent to merge \(name) into.") }
                guard InputRules.validIntentName(target) else { return try await refuse("The intent to merge into is not an intent name.") }
                let moved = try await store.mergeProposedIntent(name, into: target, by: session.user.id)
                return .redirect(to: "/admin/intents", notice: "Merged \(name) into \(target): \(moved) utterance\(moved == 1 ? "" : "s") now name \(target).")
            default:
                return try await refuse("Unknown action: choose Approve, Reject, Rename or Merge.")
            }
        } catch let error as StoreError where [.invalid, .notFound, .conflict].contains(error.code) {
            let status: HTTPResponse.Status = switch error.code {
            case .notFound: .notFound
            case .conflict: .conflict
            default: .badRequest
            }
            return try await refuse(error.message.prefix(1).uppercased() + error.message.dropFirst() + ".", status)
        }
    }

    /// A proposal's values for the template.
    static func values(_ p: IntentProposal) -> [String: Any] {
        [
            "name": p.name, "proposedBy": p.proposedBy ?? "(unknown)", "created": timestamp(p.createdAt),
            "description": p.description.isEmpty ? false : p.description, "count": p.feedbackCount, "agents": p.agentCount,
            "plural": p.feedbackCount != 1, "agentsPlural": p.agentCount != 1,
            "hasUtterances": !p.utterances.isEmpty,
            "utterances": p.utterances.map { u -> [String: Any] in
                ["text": u.text, "note": u.note.isEmpty ? false : u.note, "agent": u.agent ?? "", "verdict": u.verdict.rawValue,
                 "predicted": u.predictedIntent ?? false, "created": timestamp(u.createdAt)]
            },
            "more": p.feedbackCount > p.utterances.count ? p.utterances.count : false,
        ]
    }

    /// The rejection's confirmation page (200): what rejecting drops, a "Yes, reject" form and a
    /// way back. A name that is no longer a proposal gets the page with the reason (409 or 404).
    func confirmRejection(_ name: String, context: AppContext) async throws -> Response {
        guard let p = try await store.intentProposal(name, utterances: Self.utterancesEach) else {
            let status = try await store.intentStatus(name)
            return try await page(context: context, error: status == nil ? "There is no proposed intent \(name)." : "\(name) is no longer a proposal: it is \(status!.rawValue).",
                                  status: status == nil ? .notFound : .conflict)
        }
        return try pages.render("intents", title: "Reject \(name)?", context: context, values: ["confirming": true, "proposals": [Self.values(p)]])
    }
}
