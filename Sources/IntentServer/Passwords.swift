import Foundation
import HummingbirdBcrypt
import IntentStore
import NIOPosix

/// bcrypt hashing and checking, on NIO's blocking thread pool: a cost-12 hash takes ~0.2 s of
/// CPU, which must not stall the cooperative pool that serves requests.
public enum Passwords {
    public static let cost: UInt8 = 12
    public static let minimumLength = 8

    public static func hash(_ password: String) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String, on pool: NIOThreadPool = .singleton) async throws -> Bool {
        try await pool.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// Threads for checking passwords at login: half the cores (at least one), apart from NIO's
    /// shared pool (which also serves static files), so that a login flood can take at most
    /// half the machine from the predictor and never delays anything else's blocking work.
    static let loginThreads = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    static let loginPool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: loginThreads)
        pool.start()
        return pool
    }()

    /// A fresh hash to check against when the user does not exist (or has no password), so that
    /// a refusal takes as long as a wrong password. Made once at start-up, off the cooperative pool.
    public static func decoy() async throws -> String {
        try await hash(randomToken())
    }
}
