import Foundation
import IntentModel
import IntentStore
import Logging
import LoopCore
import Prometheus
import PostgresNIO
import ServiceLifecycle

/// Keeps this replica serving the production adapter and shadowing the shadow adapter that the
/// database names. It wakes on PostgreSQL's `intentloop_adapters` notifications (sent when a
/// promotion, rollback or shadow change commits) and polls every `pollInterval` as a fallback
/// (a notification is lost while the listening connection is down). A new adapter is fetched,
/// loaded and merged off the request path, then swapped into the predictor between batches, so
/// no request fails or waits for it. A load that fails keeps the current model and is retried
/// at the next wake-up.
struct AdapterWatcher: Service {
    let store: Store
    let base: BaseModel
    let cache: AdapterCache
    let precision: Precision
    let predictor: Predictor
    let shadow: ShadowRunner
    let metrics: ServerMetrics
    let logger: Logger
    var pollInterval: Duration = .seconds(5)
    let failures = LoadFailures()

    func run() async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await listen(wake) }
                group.addTask {
                    while !Task.isCancelled {
                        wake.yield()
                        try? await Task.sleep(for: pollInterval)
                    }
                }
                group.addTask {
                    for await _ in wakeups {
                        if Task.isCancelled { return }
                        await sync()
                    }
                }
                await group.next()
                group.cancelAll()
                wake.finish()
            }
        }
    }

    private func listen(_ wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await store.client.withConnection { connection in
                    let notifications = try await connection.listen(adapterChangesChannel)
                    wake.yield()  // anything missed while not listening
                    for try await _ in notifications { wake.yield() }
                }
            } catch {
                if Task.isCancelled { return }
                logger.debug("adapter listener reconnecting", metadata: ["error": "\(String(reflecting: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Brings the served and shadowed adapters in line with the database. Production and shadow
    /// are handled apart (a shadow that cannot load does not hold up a promotion, nor the reverse);
    /// a version that failed to load is retried after a back-off (5 s doubling to 5 min), so a
    /// broken adapter does not make every replica re-fetch it every few seconds.
    func sync() async {
        let versions: (production: String?, shadow: String?)
        let rate: Double
        do {
            versions = try await store.servingVersions()
            rate = try await store.gatePolicy().shadowSampleRate
        } catch {
            logger.warning("could not read the adapters from the database; retrying", metadata: ["error": "\(String(reflecting: error))"])
            return
        }
        // On every way out: whether the shadow this replica runs is the one the database names.
        defer {
            metrics.shadowInSync.set(Int64(shadow.current.model?.version == versions.shadow ? 1 : 0))
            metrics.setAdapter(predictor.current.version, role: .production)
            metrics.setAdapter(shadow.current.model?.version, role: .shadow)
        }
        if let production = versions.production, production != predictor.current.version, failures.mayTry(production) {
            do {
                guard let record = try await store.adapter(version: production) else { return }
                let started = ContinuousClock.now
                let model = try await Bootstrap.load(record, store: store, base: base, cache: cache, precision: precision)
                predictor.swap(to: model)
                failures.succeeded(production)
                metrics.adapterSwaps.increment()
                logger.info("switched to the production adapter", metadata: [
                    "intent.adapter.version": "\(production)", "load_ms": "\(Int(milliseconds(ContinuousClock.now - started)))",
                ])
            } catch {
                let wait = failures.failed(production)
                logger.error("the production adapter cannot be loaded; still serving the previous one", metadata: [
                    "intent.adapter.version": "\(production)", "intent.adapter.serving": "\(predictor.current.version)",
                    "retry_s": "\(Int(wait))", "error": "\(String(reflecting: error))",
                ])
            }
        }
        metrics.adapterInSync.set(Int64(versions.production == nil || versions.production == predictor.current.version ? 1 : 0))
        let current = shadow.current
        guard let version = versions.shadow else {
            if current.model != nil {
                shadow.set(model: nil, rate: 0)
                logger.info("shadow ended")
            }
            return
        }
        if current.model?.version == version {
            if current.rate != rate { shadow.set(model: current.model, rate: rate) }
            return
        }
        guard failures.mayTry(version) else { return }
        do {
            guard let record = try await store.adapter(version: version) else { return }
            shadow.set(model: try await Bootstrap.load(record, store: store, base: base, cache: cache, precision: precision), rate: rate)
            failures.succeeded(version)
            metrics.adapterSwaps.increment()
            logger.info("shadowing a candidate", metadata: ["intent.adapter.version": "\(version)", "shadow.rate": "\(rate)"])
        } catch {
            shadow.set(model: nil, rate: 0)
            let wait = failures.failed(version)
            logger.error("the shadow adapter cannot be loaded", metadata: [
                "intent.adapter.version": "\(version)", "retry_s": "\(Int(wait))", "error": "\(String(reflecting: error))",
            ])
        }
    }
}

/// Versions that failed to load, and when each may be tried again.
final class LoadFailures: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String: (count: Int, retryAt: ContinuousClock.Instant)] = [:]

    func mayTry(_ version: String) -> Bool {
        lock.withLock { failures[version].map { ContinuousClock.now >= $0.retryAt } ?? true }
    }

    /// Records a failure; returns the seconds until the next try.
    func failed(_ version: String) -> Double {
        lock.withLock {
            let count = (failures[version]?.count ?? 0) + 1
            let wait = min(5 * pow(2, Double(count - 1)), 300)
            failures[version] = (count, ContinuousClock.now + .seconds(wait))
            return wait
        }
    }

    func succeeded(_ version: String) {
        _ = lock.withLock { failures.removeValue(forKey: version) }
    }
}

func milliseconds(_ d: Duration) -> Double { Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15 }
