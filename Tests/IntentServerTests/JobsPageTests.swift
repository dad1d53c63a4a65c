import Foundation
import Hummingbird
import HummingbirdTesting
import IntentServer
import IntentStore
import LoopCore
import Testing

/// The admin jobs page: admins only, every form with the session's CSRF token, a trigger queues
/// one job, a cancel names why it cannot when the job is finished.
@Suite struct JobsPageTests {
    @Test func adminsTriggerAndCancelFromThePage() async throws {
        try await Fixture.withApp { client, store, creds in
            _ = try await store.createUser(username: "boss", role: .admin, passwordHash: try await Passwords.hash("boss-password-1"))
            var agent = Browser()
            _ = try await agent.logIn(client, username: "agent", password: creds.agentPassword)
            #expect(try await agent.get(client, "/admin/jobs").status == .forbidden)
            var anonymous = Browser()
            #expect(try await anonymous.get(client, "/admin/jobs").status == .seeOther)

            var admin = Browser()
            _ = try await admin.logIn(client, username: "boss", password: "boss-password-1")
            let page = try await admin.get(client, "/admin/jobs")
            #expect(page.status == .ok && page.text.contains("Train now"))
            let csrf = try #require(Browser.hidden("csrf", in: page.text))
            #expect(try await admin.post(client, "/admin/jobs/trigger", form: [:]).status == .forbidden)  // no CSRF token
            #expect(try await agent.post(client, "/admin/jobs/trigger", form: ["csrf": csrf]).status == .forbidden)
            #expect(try await store.jobs().isEmpty)
            #expect(try await admin.post(client, "/admin/jobs/trigger", form: ["csrf": csrf]).status == .seeOther)
            #expect(try await admin.post(client, "/admin/jobs/trigger", form: ["csrf": csrf]).status == .seeOther)
            let jobs = try await store.jobs()
            #expect(jobs.count == 1 && jobs[0].status == .queued && jobs[0].requestedBy == "boss")
            let again = try await admin.get(client, "/admin/jobs")
            #expect(again.text.contains("is already queued"))  // the second click's message, once
            #expect(again.text.contains("Cancel"))

            #expect(try await admin.post(client, "/admin/jobs/cancel", form: ["csrf": csrf, "id": "\(jobs[0].id)"]).status == .seeOther)
            #expect(try await store.job(jobs[0].id)?.status == .cancelled)
            #expect(try await admin.post(client, "/admin/jobs/cancel", form: ["csrf": csrf, "id": "\(jobs[0].id)"]).status == .seeOther)
            #expect(try await admin.get(client, "/admin/jobs").text.contains("cannot be cancelled"))
            #expect(try await admin.post(client, "/admin/jobs/cancel", form: ["csrf": csrf, "id": "-1"]).status == .badRequest)
            #expect(try await admin.post(client, "/admin/jobs/cancel", form: ["csrf": csrf, "id": "99999999999999999999"]).status == .badRequest)
        }
    }
}
