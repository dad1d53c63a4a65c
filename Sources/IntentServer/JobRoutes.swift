import Foundation
import Hummingbird
import IntentStore
import LoopCore

/// Training jobs and adapters over HTTP: the `/v1/jobs` and `/v1/models` API (admin) and the
/// admin jobs page with its trigger and cancel forms.
struct JobRoutes {
    let store: Store
    let pages: WebPages

    func add(to router: Router<AppContext>, forms: WebRoutes) {
        let v1 = router.group("v1")
        v1.post("jobs", use: trigger)
        v1.get("jobs", use: list)
        v1.get("jobs/:id", use: show)
        v1.post("jobs/:id/cancel", use: cancel)
        router.get("admin/jobs", use: page)
        router.post("admin/jobs/trigger") { request, context in
            let _: WebRoutes.Empty = try await forms.requireForm(request, context: context, role: .admin)
            let (id, created) = try await store.enqueueJob(kind: "train", trigger: "manual", payload: ["requested_from": "page"],
                                                           requestedBy: context.session?.user.id)
            return created ? Response.redirect("/admin/jobs") : Response.redirect(to: "/admin/jobs", error: "Job \(id) is already queued.")
        }
        router.post("admin/jobs/cancel") { request, context in
            let form: CancelForm = try await forms.requireForm(request, context: context, role: .admin)
            guard let id = Int64(form.id), id > 0 else { throw APIError.invalid("id", "not a job id") }
            do {
                _ = try await store.cancelJob(id, actor: context.session?.user.id)
                return Response.redirect("/admin/jobs")
            } catch let error as StoreError where error.code == .conflict || error.code == .notFound {
                return Response.redirect(to: "/admin/jobs", error: error.message)
            }
        }
    }

    struct CancelForm: Decodable { let id: String }

    struct JobCreated: Encodable {
        let job: JobRecord
        let created: Bool
    }

    /// POST /v1/jobs: queue a training job (201), or 200 with the one already queued.
    @Sendable func trigger(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        let (id, created) = try await store.enqueueJob(kind: "train", trigger: "manual", payload: ["requested_from": "api"], requestedBy: admin.id)
        guard let job = try await store.job(id) else { throw APIError(.internalServerError, code: "internal", "job \(id) vanished") }
        return try json(JobCreated(job: job, created: created), status: created ? .created : .ok)
    }

    @Sendable func list(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let limit = try QueryParameter.integer(request.uri.queryParameters["limit"].map(String.init), field: "limit", in: 1...1000) ?? 50
        struct List: Encodable { let jobs: [JobRecord] }
        return try json(List(jobs: try await store.jobs(limit: limit)))
    }

    @Sendable func show(_ request: Request, context: AppContext) async throws -> Response {
        _ = try context.require(.admin)
        let id = try jobID(context)
        guard let job = try await store.job(id) else { throw APIError(.notFound, code: "not_found", "no job \(id)", field: "id") }
        return try json(job)
    }

    @Sendable func cancel(_ request: Request, context: AppContext) async throws -> Response {
        let admin = try context.require(.admin)
        return try json(try await store.cancelJob(try jobID(context), actor: admin.id))
    }

    func jobID(_ context: AppContext) throws -> Int64 {
        guard let raw = context.parameters.get("id"), let id = Int64(raw), id > 0 else { throw APIError.invalid("id", "a job id is a positive integer") }
        return id
    }

    @Sendable func page(_ request: Request, context: AppContext) async throws -> Response {
        if let refusal = try pages.refuseUnlessAdmin(context, request: request) { return refusal }
        let csrf = context.session?.csrfToken ?? ""
        let jobs = try await store.jobs(limit: 50).map { j -> [String: Any] in
            var progress = j.progress?.phase ?? ""
            if let p = j.progress, let e = p.epoch, let n = p.epochs { progress += " · epoch \(e)/\(n)" }
            if let p = j.progress, let s = p.step, let n = p.totalSteps { progress += " · step \(s)/\(n)" }
            if let l = j.progress?.loss { progress += String(format: " · loss %.3f", l) }
            if let r = j.progress?.examplesPerSecond { progress += String(format: " · %.0f ex/s", r) }
            if j.status == .running, let eta = j.progress?.etaSeconds { progress += String(format: " · ETA %.0f s", eta) }
            return ["id": j.id, "status": j.status.rawValue, "trigger": j.trigger, "attempts": "\(j.attempts)/\(j.maxAttempts)",
                    "created": iso8601(j.createdAt), "progress": progress, "note": j.result?["adapter_version"].map { "adapter \($0)" } ?? j.error ?? "",
                    "cancellable": !j.status.isFinished && !j.cancelRequested, "csrf": csrf]
        }
        let adapters = try await store.adapters().prefix(20).map { a -> [String: Any] in
            ["version": a.version, "status": a.status.rawValue, "parent": a.parentVersion ?? "", "intents": a.labels.count,
             "golden": a.metrics["golden_accuracy"] ?? "", "pool": a.metrics["evaluation_pool_accuracy"] ?? "",
             "feedback": a.feedbackTo.map { "\(a.feedbackFrom ?? 0)–\($0)" } ?? "", "created": iso8601(a.createdAt)]
        }
        return try pages.render("jobs", title: "Training jobs", context: context, values: ["jobs": jobs, "adapters": adapters, "csrf": csrf],
                                flash: request)
    }
}

func iso8601(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
