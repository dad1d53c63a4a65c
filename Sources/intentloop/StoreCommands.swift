import ArgumentParser
import Foundation
import IntentData
import IntentServer
import IntentStore

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending database migrations (refuses when an applied one has changed).")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let logger = commandLogger("intentloop.migrate")
        try await database.withStore(logger: logger) { _, _ in }
        print("database is up to date")
    }
}

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import labelled examples (JSONL or CSV): all of them or, on the first bad line, none.")
    @Argument(help: "JSONL ({\"text\", \"intent\"} per line) or CSV with text and intent/label/category columns.") var file: String
    @Flag(help: "Import as the golden regression set (never trained on).") var golden = false
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        let examples: [LabelledExample]
        do { examples = try DatasetFile.load(file) } catch { throw CLIFailure(message: error.description) }
        let logger = commandLogger("intentloop.import")
        let kind: ExampleKind = golden ? .golden : .training
        let summary = try await database.withStore(logger: logger) { store, _ in
            do { return try await store.importExamples(examples, kind: kind, actor: nil) } catch let error as StoreError {
                throw CLIFailure(message: error.description)
            }
        }
        print("imported \(summary.inserted) \(kind.rawValue) examples (\(summary.duplicates) already present), \(summary.newIntents.count) new intents")
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage users and API tokens.", subcommands: [Add.self, Token.self, Revoke.self, Disable.self, Enable.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user. Agents and admins get a password (from INTENTLOOP_PASSWORD or standard input); clients use API tokens.")
        @Argument var username: String
        @Option(help: "client, agent or admin.") var role: String = "agent"
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            guard let role = Role(rawValue: role) else { throw CLIFailure(message: "--role must be client, agent or admin") }
            var hash: String?
            if role >= .agent {
                let password = ProcessInfo.processInfo.environment["INTENTLOOP_PASSWORD"] ?? readLine(strippingNewline: true) ?? ""
                guard password.count >= Passwords.minimumLength else {
                    throw CLIFailure(message: "the password must have at least \(Passwords.minimumLength) characters (INTENTLOOP_PASSWORD or standard input)")
                }
                hash = try await Passwords.hash(password)
            }
            let name = username, passwordHash = hash
            try await database.withStore(logger: commandLogger("intentloop.users")) { store, _ in
                do {
                    let user = try await store.createUser(username: name, role: role, passwordHash: passwordHash)
                    print("created \(role.rawValue) \(user.username)")
                } catch let error as StoreError { throw CLIFailure(message: error.description) }
            }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Issue an API token for a user; it is printed once and stored hashed.")
        @Argument var username: String
        @Option(help: "A name to recognise the token by.") var name: String = "cli"
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let user = username, tokenName = name
            try await database.withStore(logger: commandLogger("intentloop.users")) { store, _ in
                let record = try await store.existingUser(named: user)
                let token: String
                do { token = try await store.createAPIToken(userID: record.id, name: tokenName, subject: user) } catch let error as StoreError {
                    throw CLIFailure(message: error.description)
                }
                print(token)
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a user's API tokens (all, or those with --name). A running server honours it within \(APITokenCache.defaultTTLSeconds) s.")
        @Argument var username: String
        @Option(help: "Revoke only the tokens with this name.") var name: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let user = username, tokenName = name
            try await database.withStore(logger: commandLogger("intentloop.users")) { store, _ in
                let record = try await store.existingUser(named: user)
                let count = try await store.revokeAPITokens(userID: record.id, name: tokenName, subject: user)
                print("revoked \(count) token\(count == 1 ? "" : "s") of \(user)")
            }
        }
    }
}

extension UsersCommand {
    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: their sessions end and their tokens stop working at once on every running server.")
        @Argument var username: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws { try await UsersCommand.setDisabled(username, true, database) }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled user again (their tokens work again unless revoked).")
        @Argument var username: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws { try await UsersCommand.setDisabled(username, false, database) }
    }

    static func setDisabled(_ user: String, _ disabled: Bool, _ database: DatabaseOptions) async throws {
        try await database.withStore(logger: commandLogger("intentloop.users")) { store, _ in
            guard try await store.setUserDisabled(user, disabled: disabled, actor: nil) else {
                throw CLIFailure(message: "no user '\(user)' that is \(disabled ? "enabled" : "disabled")")
            }
            print("\(disabled ? "disabled" : "enabled") \(user)")
        }
    }
}

extension Store {
    /// The named user, or the CLI's one-line error (exit 2) when there is none.
    fileprivate func existingUser(named name: String) async throws -> UserRecord {
        guard let user = try await user(named: name) else { throw CLIFailure(message: "no user '\(name)'") }
        return user
    }
}
