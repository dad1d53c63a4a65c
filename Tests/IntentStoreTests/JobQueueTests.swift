import Foundation
import IntentStore
import IntentTestSupport
import LoopCore
import PostgresNIO
import Testing

@Suite struct JobQueueTests {
    @Test func concurrentWorkersNeverClaimTheSameJob() async throws {
        try await TestDatabase.withStore { store in
            // 20 queued jobs (triggers and slots would coalesce them: insert them directly).
            try await store.query("INSERT INTO jobs (kind, status) SELECT 'train', 'queued' FROM generate_series(1, 20)")
            // 8 workers claim at once until the queue is empty.
            let claimed = try await withThrowingTaskGroup(of: [Int64].self) { group in
                for w in 0..<8 {
                    group.addTask {
                        var mine: [Int64] = []
                        while let job = try await store.claimJob(worker: "w\(w)", kinds: ["train"], lease: .seconds(60)) { mine.append(job.id) }
                        return mine
                    }
                }
                return try await group.reduce(into: [Int64]()) { $0 += $1 }
            }
            #expect(claimed.count == 20)
            #expect(Set(claimed).count == 20)
            #expect(try await store.jobs().allSatisfy { $0.status == .running && $0.attempts == 1 })
        }
    }

    @Test func expiredLeaseIsRequeuedThenFailsAfterTheLastAttempt() async throws {
        try await TestDatabase.withStore { store in
            let (id, _) = try await store.enqueueJob(kind: "train", maxAttempts: 2)
            let first = try #require(try await store.claimJob(worker: "dead", kinds: ["train"], lease: .seconds(1)))
            #expect(first.attempt == 1)
            // The dead worker's training row fails with its lease.
            var training = NewAdapter(version: "j\(id)a1", status: .training, labels: ["a", "b"], files: [:])
            training.jobID = id
            try await store.transaction { [training] c in try await store.storeAdapter(training, actor: nil, on: c) }
            try await Task.sleep(for: .milliseconds(1200))
            let reaped = try await store.reapExpiredLeases()
            #expect(reaped.map(\.id) == [id] && reaped[0].status == .queued)
            #expect(try await store.adapter(version: "j\(id)a1")?.status == .failed)
            // The dead worker's late heartbeat and finish are refused: the job is not its own any more.
            #expect(try await store.heartbeat(first, worker: "dead", lease: .seconds(60), progress: nil) == .lost)
            #expect(try await store.finishJob(first, worker: "dead", event: .succeeded) == false)
            let second = try #require(try await store.claimJob(worker: "alive", kinds: ["train"], lease: .seconds(1)))
            #expect(second.id == id && second.attempt == 2)
            try await Task.sleep(for: .milliseconds(1200))
            #expect(try await store.reapExpiredLeases().first?.status == .failed)
            let job = try #require(try await store.job(id))
            #expect(job.status == .failed && job.attempts == 2)
            #expect(job.error?.contains("last attempt") == true)
            #expect(try await store.claimJob(worker: "alive", kinds: ["train"], lease: .seconds(1)) == nil)
        }
    }

    @Test func heartbeatRenewsTheLeaseStoresProgressAndHearsCancellation() async throws {
        try await TestDatabase.withStore { store in
            let (id, _) = try await store.enqueueJob(kind: "train")
            let job = try #require(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(1)))
            let progress = JobProgress(phase: "train", epoch: 1, epochs: 3, step: 5, totalSteps: 30, loss: 1.5, examplesPerSecond: 80, etaSeconds: 12)
            for _ in 0..<3 {
                try await Task.sleep(for: .milliseconds(500))
                #expect(try await store.heartbeat(job, worker: "w", lease: .seconds(1), progress: progress) == .keepGoing)
            }
            #expect(try await store.reapExpiredLeases().isEmpty)  // 1.5 s after the claim, still leased
            #expect(try await store.job(id)?.progress == progress)
            let cancelling = try await store.cancelJob(id, actor: nil)
            #expect(cancelling.status == .running && cancelling.cancelRequested)
            #expect(try await store.heartbeat(job, worker: "w", lease: .seconds(60), progress: nil) == .cancel)
            #expect(try await store.finishJob(job, worker: "w", event: .cancelAcknowledged))
            #expect(try await store.job(id)?.status == .cancelled)
            // A finished job cannot be cancelled again; an unknown one is not found.
            await #expect { try await store.cancelJob(id, actor: nil) } throws: { ($0 as? StoreError)?.code == .conflict }
            await #expect { try await store.cancelJob(999_999, actor: nil) } throws: { ($0 as? StoreError)?.code == .notFound }
        }
    }

    @Test func aJobGivenBackAtShutdownDoesNotUseAnAttempt() async throws {
        try await TestDatabase.withStore { store in
            let (id, _) = try await store.enqueueJob(kind: "train", maxAttempts: 1)
            for round in 0..<3 {
                let job = try #require(try await store.claimJob(worker: "w\(round)", kinds: ["train"], lease: .seconds(60)))
                #expect(job.attempt == 1)
                #expect(try await store.finishJob(job, worker: "w\(round)", event: .released))
                let queued = try #require(try await store.job(id))
                #expect(queued.status == .queued && queued.attempts == 0 && queued.worker == nil && queued.progress == nil)
            }
        }
    }

    @Test func queuedJobCancelsAtOnceAndIsNeverClaimed() async throws {
        try await TestDatabase.withStore { store in
            let (id, _) = try await store.enqueueJob(kind: "train")
            #expect(try await store.cancelJob(id, actor: nil).status == .cancelled)
            #expect(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(60)) == nil)
        }
    }

    @Test func retryableFailureWaitsItsBackoff() async throws {
        try await TestDatabase.withStore { store in
            let (id, _) = try await store.enqueueJob(kind: "train")
            let job = try #require(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(60)))
            #expect(try await store.finishJob(job, worker: "w", event: .failed("database away", retryable: true)))
            let queued = try #require(try await store.job(id))
            #expect(queued.status == .queued && queued.error?.contains("retrying") == true)
            #expect(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(60)) == nil)  // 30 s backoff
        }
    }

    @Test func manualTriggerWhileOneIsQueuedReturnsIt() async throws {
        try await TestDatabase.withStore { store in
            let results = try await withThrowingTaskGroup(of: (Int64, Bool).self) { group in
                for _ in 0..<6 { group.addTask { try await store.enqueueJob(kind: "train") } }
                return try await group.reduce(into: [(Int64, Bool)]()) { $0.append($1) }
            }
            #expect(Set(results.map(\.0)).count == 1)
            #expect(results.filter(\.1).count == 1)
        }
    }

    @Test func slotsAreRecordedOnceAndSkippedSlotsKeepTheirReason() async throws {
        try await TestDatabase.withStore { store in
            let outcomes = try await withThrowingTaskGroup(of: Int64?.self) { group in
                for _ in 0..<5 { group.addTask { try await store.recordSlot("train@2026-12-07T03:00:00Z", kind: "train", skipReason: nil)?.id } }
                return try await group.reduce(into: [Int64?]()) { $0.append($1) }
            }
            #expect(outcomes.compactMap { $0 }.count == 1)
            let skipped = try #require(try await store.recordSlot("train@2026-12-14T03:00:00Z", kind: "train", skipReason: "only 3 new")?.id)
            let job = try #require(try await store.job(skipped))
            #expect(job.status == .skipped && job.error == "only 3 new" && job.finishedAt != nil)
            #expect(try await store.claimJob(worker: "w", kinds: ["train"], lease: .seconds(60))?.id != skipped)
            // A slot that falls while a train job is still running is skipped, naming it (no pile-up).
            let busy = try #require(try await store.recordSlot("train@2026-12-21T03:00:00Z", kind: "train", skipReason: nil))
            #expect(busy.skipReason?.hasSuffix("is still running") == true)
            #expect(try await store.job(busy.id)?.status == .skipped)
            #expect(try await store.job(busy.id)?.error == busy.skipReason)
        }
    }
}

@Suite struct AdapterStoreTests {
    @Test func filesAreContentAddressedAndCachedCopiesVerified() async throws {
        try await TestDatabase.withStore { store in
            let files = ["adapter_model.safetensors": Data(repeating: 7, count: 4096), "labels.json": Data("[\"a\",\"b\"]".utf8)]
            var a = NewAdapter(version: "va", status: .production, labels: ["a", "b"], files: files)
            a.metrics = ["golden_accuracy": "0.9"]
            try await store.storeProductionAdapter(a, actor: nil)
            var b = NewAdapter(version: "vb", status: .production, labels: ["a", "b"], files: files.merging(["extra.json": Data("{}".utf8)]) { $1 })
            b.parentVersion = "va"
            try await store.storeProductionAdapter(b, actor: nil)
            // Shared files stored once; the old production adapter retired.
            let blobs = try await store.query("SELECT count(*) FROM adapter_blobs")
            for try await n in blobs.decode(Int.self) { #expect(n == 3) }
            #expect(try await store.adapter(version: "va")?.status == .retired)
            let record = try #require(try await store.productionAdapter())
            #expect(record.version == "vb" && record.parentVersion == "va" && record.sha256?.count == 64)
            #expect(record.sha256 == AdapterContent.manifestHash(record.files))

            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: dir) }
            let cache = AdapterCache(directory: dir)
            let folder = try await cache.folder(for: record, store: store)
            #expect(FileManager.default.contents(atPath: folder.appendingPathComponent("labels.json").path) == files["labels.json"])
            // A tampered cached file is noticed and fetched again.
            try Data("tampered".utf8).write(to: folder.appendingPathComponent("labels.json"))
            let again = try await cache.folder(for: record, store: store)
            #expect(FileManager.default.contents(atPath: again.appendingPathComponent("labels.json").path) == files["labels.json"])
            // An adapter from before migration 0003 (a row with a local path only) is uploaded on first use.
            let legacy = dir.appendingPathComponent("legacy-folder")
            try FileManager.default.createDirectory(at: legacy, withIntermediateDirectories: true)
            for (name, data) in files { try data.write(to: legacy.appendingPathComponent(name)) }
            try await store.query("INSERT INTO adapters (version, path, status, labels) VALUES ('v0-legacy', \(legacy.path), 'retired', '[\"a\",\"b\"]')")
            let old = try #require(try await store.adapter(version: "v0-legacy"))
            #expect(old.sha256 == nil && old.files.isEmpty)
            let adopted = try await store.adoptLegacyAdapter(old)
            #expect(adopted.files == record.files.filter { files[$0.key] != nil } && adopted.sha256 == AdapterContent.manifestHash(adopted.files))
            try FileManager.default.removeItem(at: legacy)  // from now on the database has it
            let fetched = try await cache.folder(for: adopted, store: store)
            #expect(FileManager.default.contents(atPath: fetched.appendingPathComponent("adapter_model.safetensors").path) == files["adapter_model.safetensors"])
            // Lifecycle rules hold at the database edge too.
            await #expect { try await store.transitionAdapter("va", .trained("x"), actor: .gate) } throws: { ($0 as? StoreError)?.code == .conflict }
        }
    }
}
