import Foundation
import Hummingbird
import HummingbirdTesting
import IntentData
import IntentServer
import IntentStore
import IntentTestSupport
import PostgresNIO
import Testing

/// Issue 14, item 4: intent proposals with context. The admin's intents page shows each
/// proposal's utterances, proposer, notes and counts, and approves, rejects (after a
/// confirmation), renames or merges it; the agent's history marks pending proposals.
@Suite struct IntentProposalsTests {
    /// An admin with a password, logged in; and the session's CSRF token.
    static func admin(_ client: any TestClientProtocol, _ store: Store) async throws -> (Browser, String) {
        _ = try await store.createUser(username: "boss", role: .admin, passwordHash: try await Passwords.hash("boss-password-1"))
        var browser = Browser()
        let login = try await browser.logIn(client, username: "boss", password: "boss-password-1")
        #expect(login.status == .seeOther)
        let page = try await browser.get(client, "/admin/intents")
        #expect(page.status == .ok)
        return (browser, try #require(Browser.hidden("csrf", in: page.text)))
    }

    /// The agent submits `text` naming `intent`, proposing it when unknown.
    static func submit(_ client: any TestClientProtocol, token: String, _ text: String, _ intent: String, note: String = "") async throws {
        let body = try JSONSerialization.data(withJSONObject: ["text": text, "intent": intent, "note": note, "propose_intent": true])
        let r = try await client.call(.post, "/v1/feedback", token: token, json: String(decoding: body, as: UTF8.self))
        #expect(r.status == .created, "\(r.text)")
    }

    static func decide(_ browser: inout Browser, _ client: any TestClientProtocol, _ form: [String: String]) async throws -> TestResponse {
        try await browser.post(client, "/admin/intents/decide", form: form)
    }

    @Test func thePageShowsEachProposalWithItsUtterancesProposerNotesAndCount() async throws {
        try await Fixture.withApp { client, store, creds in
            for i in 1...7 {
                try await Self.submit(client, token: creds.agentToken, "refund number \(i) <b>now</b>", "billing/refund", note: "note \(i)")
            }
            try await Self.submit(client, token: creds.agentToken, "where is the box", "track_package")
            var (admin, _) = try await Self.admin(client, store)
            let page = try await admin.get(client, "/admin/intents")
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("id=\"proposal-billing/refund\""))
            #expect(html.contains("<strong class=\"proposer\">agent</strong>"), "who proposed it")
            #expect(html.contains("<strong class=\"count\">7</strong> utterances"), "how many verdicts name it")
            for i in 3...7 { #expect(html.contains("refund number \(i) &lt;b&gt;now&lt;/b&gt;"), "latest utterance \(i), escaped") }
            for i in 1...2 { #expect(!html.contains("refund number \(i) "), "only the latest 5 are listed") }
            #expect(html.contains("note 7") && html.contains("note 3") && !html.contains("note 2<"), "with the agents' notes")
            #expect(html.contains("The latest 5 of 7."))
            #expect(!html.contains("<b>now</b>"))
            for id in ["approve-billing/refund", "reject-billing/refund", "rename-billing/refund", "merge-billing/refund",
                       "new-name-billing/refund", "merge-target-billing/refund"] {
                #expect(html.contains("id=\"\(id)\""), "\(id)")
            }
            #expect(html.contains("<option value=\"track_package\">track_package</option>"), "active intents are merge targets")
            #expect(!html.contains("<option value=\"billing/refund\">"), "a proposal is not a merge target")
            #expect(!html.contains("name=\"csrf\" value=\"\""), "every form carries the session's CSRF token")
            #expect(html.contains("<button type=\"submit\" name=\"decision\" value=\"approve\" id=\"approve-billing/refund\">"))
            #expect(!html.contains("style="), "no inline styles (the CSP forbids them)")
            #expect(!html.contains("<script"))

            // The agent's history marks the rows naming a pending proposal, and only those.
            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            let history = try await agent.get(client, "/history")
            #expect(history.status == .ok)
            let pendingBadges = history.text.components(separatedBy: "pending approval</span>").count - 1
            #expect(pendingBadges == 7, "7 rows name the proposal, one names an active intent")
        }
    }

    @Test func approvingMakesTheIntentActiveAndSaysTheNextAdapterWillLearnIt() async throws {
        try await Fixture.withApp { client, store, creds in
            try await Self.submit(client, token: creds.agentToken, "refund my card", "billing/refund", note: "no intent for refunds")
            try await Self.submit(client, token: creds.agentToken, "give my money back", "billing/refund")
            var (admin, csrf) = try await Self.admin(client, store)
            let done = try await Self.decide(&admin, client, ["csrf": csrf, "name": "billing/refund", "decision": "approve"])
            #expect(done.status == .seeOther && done.headers[.location] == "/admin/intents")
            #expect(try await store.intentStatus("billing/refund") == .active)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'intent.approve' AND subject = 'billing/refund'") == 1)
            let page = try await admin.get(client, "/admin/intents")
            #expect(page.text.contains("Approved: the next adapter will learn billing/refund (from 2 utterances so far)."))
            #expect(!page.text.contains("id=\"proposal-billing/refund\""), "no longer a proposal")
            #expect(page.text.contains("<tr data-intent=\"billing/refund\"><td class=\"wrap\">billing/refund</td><td>approved</td><td>boss</td>"),
                    "listed as decided, with who")
            #expect(!(try await admin.get(client, "/admin/intents")).text.contains("Approved:"), "the notice is shown once")

            // A second decision (another admin's stale page) is refused, naming the first.
            let again = try await Self.decide(&admin, client, ["csrf": csrf, "name": "billing/refund", "decision": "reject", "confirm": "yes"])
            #expect(again.status == .conflict)
            #expect(again.text.contains("no longer a proposal: it was approved by boss"))
            #expect(try await store.intentStatus("billing/refund") == .active)

            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            #expect(!(try await agent.get(client, "/history")).text.contains("pending approval"), "approved: no longer pending")
        }
    }

    @Test func rejectingAsksForAConfirmationFirst() async throws {
        try await Fixture.withApp { client, store, creds in
            try await Self.submit(client, token: creds.agentToken, "the app is slow", "complaint", note: "rude customer")
            var (admin, csrf) = try await Self.admin(client, store)
            let ask = try await Self.decide(&admin, client, ["csrf": csrf, "name": "complaint", "decision": "reject"])
            #expect(ask.status == .ok)
            #expect(ask.text.contains("Reject this proposal?") && ask.text.contains("id=\"confirm-reject\"") && ask.text.contains("id=\"cancel-reject\""))
            #expect(ask.text.contains("the app is slow") && ask.text.contains("rude customer"), "the confirmation shows what is dropped")
            #expect(ask.text.contains("name=\"confirm\" value=\"yes\""))
            #expect(try await store.intentStatus("complaint") == .proposed, "not rejected without the confirmation")
            let wrong = try await Self.decide(&admin, client, ["csrf": csrf, "name": "complaint", "decision": "reject", "confirm": "no"])
            #expect(wrong.status == .ok && wrong.text.contains("id=\"confirm-reject\""))
            #expect(try await store.intentStatus("complaint") == .proposed)

            let done = try await Self.decide(&admin, client, ["csrf": csrf, "name": "complaint", "decision": "reject", "confirm": "yes"])
            #expect(done.status == .seeOther)
            #expect(try await store.intentStatus("complaint") == .rejected)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action = 'intent.reject'") == 1)
            let page = try await admin.get(client, "/admin/intents")
            #expect(page.text.contains("Rejected complaint: its 1 utterance will not be trained on."))
            #expect(page.text.contains("<td>rejected</td><td>boss</td>"))

            let unknown = try await Self.decide(&admin, client, ["csrf": csrf, "name": "never_proposed", "decision": "reject"])
            #expect(unknown.status == .notFound)
        }
    }

    @Test func renamingMovesTheIntentAndEveryVerdictNamingIt() async throws {
        try await Fixture.withApp { client, store, creds in
            for text in ["refnd please", "i want a refnd", "refnd the card"] {
                try await Self.submit(client, token: creds.agentToken, text, "refnd")
            }
            var (admin, csrf) = try await Self.admin(client, store)
            // Refused, and nothing changes: an existing name, a path-like or invalid one, an empty one.
            let taken = try await Self.decide(&admin, client, ["csrf": csrf, "name": "refnd", "decision": "rename", "new_name": "cancel_order"])
            #expect(taken.status == .conflict && taken.text.contains("already exists (active)") && taken.text.contains("merge instead"))
            for bad in ["../", "../etc", "a//b", "/x", "has space", "a\u{0}b", String(repeating: "x", count: 10_000), ""] {
                let r = try await Self.decide(&admin, client, ["csrf": csrf, "name": "refnd", "decision": "rename", "new_name": bad])
                #expect(r.status == .badRequest, "\(bad.prefix(10))")
                #expect(r.text.contains("class=\"error\""), "the page says why")
            }
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'refnd'") == 3)
            #expect(try await store.intentStatus("refnd") == .proposed)

            let done = try await Self.decide(&admin, client, ["csrf": csrf, "name": "refnd", "decision": "rename", "new_name": "billing/refund"])
            #expect(done.status == .seeOther)
            #expect(try await store.intentStatus("refnd") == nil)
            #expect(try await store.intentStatus("billing/refund") == .proposed, "still a proposal, under its new name")
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'billing/refund'") == 3)
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'refnd'") == 0)
            #expect(try await store.scalar("""
                SELECT count(*) FROM intents i JOIN users u ON u.id = i.proposed_by WHERE i.name = 'billing/refund' AND u.username = 'agent'
                """) == 1, "the proposer is kept")
            #expect(try await store.scalar("""
                SELECT count(*) FROM audit_events WHERE action = 'intent.rename' AND subject = 'refnd'
                  AND details->>'to' = 'billing/refund' AND details->>'feedback_moved' = '3'
                """) == 1)
            let page = try await admin.get(client, "/admin/intents")
            #expect(page.text.contains("Renamed refnd to billing/refund; 3 utterances moved with it."))
            #expect(page.text.contains("id=\"proposal-billing/refund\"") && page.text.contains("<strong class=\"count\">3</strong>"))
            let stale = try await Self.decide(&admin, client, ["csrf": csrf, "name": "refnd", "decision": "approve"])
            #expect(stale.status == .notFound, "the old name is gone")
        }
    }

    @Test func mergingMovesVerdictsIntoAnActiveIntentOnly() async throws {
        try await Fixture.withApp { client, store, creds in
            // A correction naming the proposal: after the merge into what the model said, it is a confirmation.
            let p = try await client.call(.post, "/v1/predict", token: creds.clientToken, json: #"{"text": "where is my parcel"}"#)
            let id = try #require(p.object["id"] as? String)
            let predicted = try #require(p.object["intent"] as? String)
            let corrected = try await client.call(.post, "/v1/feedback", token: creds.agentToken,
                                                  json: #"{"prediction_id": "\#(id)", "verdict": "correct", "intent": "parcel_status", "propose_intent": true}"#)
            #expect(corrected.status == .created)
            try await Self.submit(client, token: creds.agentToken, "status of my parcel", "parcel_status")
            try await Self.submit(client, token: creds.agentToken, "something else", "other_idea")
            try await Self.submit(client, token: creds.agentToken, "bad idea", "bad_idea")
            var (admin, csrf) = try await Self.admin(client, store)
            let reject = try await Self.decide(&admin, client, ["csrf": csrf, "name": "bad_idea", "decision": "reject", "confirm": "yes"])
            #expect(reject.status == .seeOther)

            // Refused, and nothing moves: unknown, proposed, rejected, itself, missing, invalid.
            for (target, status) in [("no_such_intent", HTTPResponse.Status.notFound), ("other_idea", .conflict), ("bad_idea", .conflict),
                                     ("parcel_status", .badRequest), ("", .badRequest), ("a\u{0}b", .badRequest),
                                     (String(repeating: "y", count: 10_000), .badRequest)] {
                let r = try await Self.decide(&admin, client, ["csrf": csrf, "name": "parcel_status", "decision": "merge", "target": target])
                #expect(r.status == status, "\(target.prefix(10))")
                #expect(r.text.contains("class=\"error\""))
            }
            let proposedRefusal = try await Self.decide(&admin, client, ["csrf": csrf, "name": "parcel_status", "decision": "merge", "target": "other_idea"])
            #expect(proposedRefusal.text.contains("not active"))
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'parcel_status'") == 2)
            #expect(try await store.intentStatus("parcel_status") == .proposed)

            let done = try await Self.decide(&admin, client, ["csrf": csrf, "name": "parcel_status", "decision": "merge", "target": predicted])
            #expect(done.status == .seeOther)
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'parcel_status'") == 0)
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = '\(predicted)'") == 2)
            #expect(try await store.feedback(predictionID: UUID(uuidString: id)!)?.verdict == .confirm,
                    "a correction that now names the model's intent is a confirmation")
            #expect(try await store.intentStatus("parcel_status") == .rejected)
            #expect(try await store.scalar("SELECT count(*) FROM intents WHERE name = 'parcel_status' AND merged_into = '\(predicted)'") == 1)
            #expect(try await store.scalar("""
                SELECT count(*) FROM audit_events WHERE action = 'intent.merge' AND subject = 'parcel_status'
                  AND details->>'into' = '\(predicted)' AND details->>'feedback_moved' = '2' AND details->>'corrections_now_confirmations' = '1'
                """) == 1)
            let page = try await admin.get(client, "/admin/intents")
            #expect(page.text.contains("Merged parcel_status into \(predicted): 2 utterances now name \(predicted)."))
            #expect(page.text.contains("<td>merged into \(predicted)</td>"))
            #expect(try await store.intentStatus(predicted) == .active, "the target is untouched")
        }
    }

    @Test func agentsMayNeitherSeeNorDecide() async throws {
        try await Fixture.withApp { client, store, creds in
            try await Self.submit(client, token: creds.agentToken, "refund my card", "billing/refund")
            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            #expect(try await agent.get(client, "/admin/intents").status == .forbidden)
            let queue = try await agent.get(client, "/queue")
            let csrf = try #require(Browser.hidden("csrf", in: queue.text))
            for decision in ["approve", "reject", "rename", "merge"] {
                let r = try await agent.post(client, "/admin/intents/decide", form: [
                    "csrf": csrf, "name": "billing/refund", "decision": decision, "confirm": "yes", "new_name": "refunds", "target": "cancel_order",
                ])
                #expect(r.status == .forbidden, "\(decision)")
            }
            #expect(try await store.intentStatus("billing/refund") == .proposed)
            #expect(try await store.scalar("SELECT count(*) FROM feedback WHERE intent = 'billing/refund'") == 1)
            #expect(try await client.execute(uri: "/admin/intents", method: .get).headers[.location]?.hasPrefix("/login") == true)
            // An admin's form without its CSRF token is refused too.
            var (admin, _) = try await Self.admin(client, store)
            #expect(try await Self.decide(&admin, client, ["name": "billing/refund", "decision": "approve"]).status == .forbidden)
            #expect(try await store.intentStatus("billing/refund") == .proposed)
        }
    }

    @Test func hostileFormFieldsAreRefusedWith4xx() async throws {
        try await Fixture.withApp { client, store, creds in
            try await Self.submit(client, token: creds.agentToken, "refund my card", "billing/refund")
            var (admin, csrf) = try await Self.admin(client, store)
            let names = ["a\u{0}b", String(repeating: "z", count: 10_000), "../", "..%2F", "<script>", "", "billing/refund\u{0}"]
            for name in names {
                for decision in ["approve", "reject", "rename", "merge"] {
                    let r = try await Self.decide(&admin, client, [
                        "csrf": csrf, "name": name, "decision": decision, "confirm": "yes", "new_name": "fine_name", "target": "cancel_order",
                    ])
                    let code = r.status.code
                    #expect((400..<500).contains(code), "\(name.prefix(10)) \(decision): \(code)")
                    #expect(!r.text.contains("<script>"), "never echoed as markup")
                }
            }
            for decision in ["", "delete", "approve\u{0}", String(repeating: "a", count: 10_000)] {
                let r = try await Self.decide(&admin, client, ["csrf": csrf, "name": "billing/refund", "decision": decision])
                #expect(r.status == .badRequest && r.text.contains("Unknown action"))
            }
            #expect(try await Self.decide(&admin, client, ["csrf": csrf, "decision": "approve"]).status == .badRequest)
            #expect(try await store.intentStatus("billing/refund") == .proposed, "nothing was decided")
            #expect(try await store.intentStatus("fine_name") == nil)
            #expect(try await store.scalar("SELECT count(*) FROM audit_events WHERE action LIKE 'intent.%' AND action <> 'intent.propose'") == 0)
        }
    }
}

/// The store's side: two admins deciding one proposal at once never both win.
@Suite struct IntentProposalConcurrencyTests {
    @Test func concurrentDecisionsOnOneProposalLeaveOneWinner() async throws {
        try await TestDatabase.withStore { store in
            _ = try await store.importExamples([.init(text: "cancel it", intent: "cancel_order")], kind: .training, actor: nil)
            let agent = try await store.createUser(username: "a1", role: .agent, passwordHash: nil)
            let admin = try await store.createUser(username: "root", role: .admin, passwordHash: nil)
            for round in 0..<6 {
                let name = "idea_\(round)"
                for i in 0..<3 { _ = try await store.submit(text: "text \(i) of \(name)", intent: name, agentID: agent.id, propose: true) }
                let outcomes = await withTaskGroup(of: String?.self) { group in
                    group.addTask { (try? await store.decideIntent(name, approve: true, by: admin.id)).map { _ in "approve" } }
                    group.addTask { (try? await store.decideIntent(name, approve: false, by: admin.id)).map { _ in "reject" } }
                    group.addTask { (try? await store.renameProposedIntent(name, to: "\(name)_renamed", by: admin.id)).map { _ in "rename" } }
                    group.addTask { (try? await store.mergeProposedIntent(name, into: "cancel_order", by: admin.id)).map { _ in "merge" } }
                    var won: [String] = []
                    for await o in group { if let o { won.append(o) } }
                    return won
                }
                #expect(outcomes.count == 1, "exactly one decision wins: \(outcomes)")
                let audits = try await store.scalar("""
                    SELECT count(*) FROM audit_events WHERE subject = '\(name)' AND action IN ('intent.approve', 'intent.reject', 'intent.rename', 'intent.merge')
                    """)
                #expect(audits == 1)
                let moved = outcomes.first == "rename" ? "\(name)_renamed" : outcomes.first == "merge" ? "cancel_order" : name
                let count = try await store.scalar("SELECT count(*) FROM feedback WHERE text LIKE '%of \(name)' AND intent = '\(moved)'")
                #expect(count == 3, "every verdict names the winner's intent")
            }
        }
    }

    @Test func proposalsAreListedWithBoundedUtterancesAndHistoryCarriesStatus() async throws {
        try await TestDatabase.withStore { store in
            let agent = try await store.createUser(username: "a1", role: .agent, passwordHash: nil)
            let other = try await store.createUser(username: "a2", role: .agent, passwordHash: nil)
            for i in 0..<8 { _ = try await store.submit(text: "one \(i)", intent: "first", agentID: i % 2 == 0 ? agent.id : other.id, note: "n\(i)", propose: true) }
            _ = try await store.submit(text: "two", intent: "second", agentID: other.id, propose: true)
            let (all, total) = try await store.intentProposals(limit: 1, utterances: 3)
            #expect(total == 2 && all.count == 1)
            let first = try #require(all.first)
            #expect(first.name == "first" && first.proposedBy == "a1" && first.feedbackCount == 8 && first.agentCount == 2)
            #expect(first.utterances.map(\.text) == ["one 7", "one 6", "one 5"])
            #expect(first.utterances.map(\.note) == ["n7", "n6", "n5"])
            #expect(try await store.intentProposal("second")?.proposedBy == "a2")
            #expect(try await store.intentProposal("nope") == nil)
            let history = try await store.historyWithIntentStatus(agentID: other.id)
            #expect(history.count == 5 && history.allSatisfy { $0.intentStatus == .proposed })
            #expect(Store.newIntentNameProblem("billing/refund") == nil)
            for bad in ["../", "a/", "/a", "a//b", "a/./b", "", "a b"] { #expect(Store.newIntentNameProblem(bad) != nil, "\(bad)") }
        }
    }
}
