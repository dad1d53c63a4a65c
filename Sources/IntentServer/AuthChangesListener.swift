import IntentStore
import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens on PostgreSQL's `intentloop_auth` channel and empties the API-token cache whenever
/// credentials change anywhere (a token revoked, a user disabled, by this replica, another one
/// or the CLI), so such a change takes effect at once instead of after the cache's TTL. A lost
/// connection may have missed notifications: the cache is emptied again on every reconnect
/// (through the store's current pool, which is replaced after an outage).
struct AuthChangesListener: Service {
    let store: Store
    let cache: APITokenCache
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await store.client.withConnection { connection in
                        let notifications = try await connection.listen(authChangesChannel)
                        cache.invalidateAll()
                        for try await _ in notifications { cache.invalidateAll() }
                    }
                } catch {
                    if Task.isCancelled { return }
                    logger.debug("auth change listener reconnecting", metadata: ["error": "\(String(reflecting: error))"])
                }
                cache.invalidateAll()
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
