import ArgumentParser
import Foundation
import GateStatistics
import IntentServer
import IntentStore
import LoopCore

struct ModelsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "Adapters stored in the database: list, compare, promote, roll back, the deployment history, export as a PEFT folder.",
        subcommands: [List.self, Compare.self, Promote.self, Rollback.self, Deployments.self, Export.self])

    /// Who acts from the command line: an admin user named with --by, or the operating-system user.
    static func actor(_ store: Store, by name: String?) async throws -> AdapterActor {
        guard let name else { return AdapterActor(id: nil, name: "command line (\(ProcessInfo.processInfo.userName))") }
        guard let user = try await store.user(named: name), user.role == .admin else { throw CLIFailure(message: "--by \(name) is not an admin user") }
        return AdapterActor(id: user.id, name: user.username)
    }

    struct Compare: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Two adapters on the same utterances: accuracy and macro-F1 with intervals, McNemar, per-intent F1, changed confusions, shadow agreement.")
        @Argument(help: "The reference (default: production).") var a: String?
        @Argument(help: "The challenger (default: the newest shadow or candidate).") var b: String?
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document (as GET /v1/models/compare).") var json = false

        func run() async throws {
            let a = a, b = b
            let report = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in
                try await ComparisonReport.build(store: store, a: a, b: b)
            }
            if json { return printJSON(report) }
            let c = report.comparison
            print("A = \(report.a.version) (\(report.a.status))   B = \(report.b.version) (\(report.b.status))")
            print("items\tn\taccuracy A\taccuracy B\tB-A (points, interval)\tMcNemar B-only/A-only\tp\tmacro-F1 A\tmacro-F1 B")
            for s in c.sources {
                print(String(format: "%@\t%d\t%.3f\t%.3f\t%+.1f (%+.1f … %+.1f)\t%d/%d\t%.4g\t%.3f\t%.3f", s.name, s.n, s.accuracyA.estimate, s.accuracyB.estimate,
                             s.difference.estimate * 100, s.difference.lower * 100, s.difference.upper * 100, s.mcnemar.candidateOnly,
                             s.mcnemar.baselineOnly, s.mcnemar.pValue, s.macroF1A.estimate, s.macroF1B.estimate))
            }
            let moved = c.intents.filter { $0.delta != 0 }
            if !moved.isEmpty {
                print("\nF1 change per intent (B - A):")
                for i in moved { print(String(format: "  %+.3f  %@ (%d items)", i.delta, i.intent, i.support)) }
            }
            if !c.confusionChanges.isEmpty {
                print("\nconfusions that changed most (true → predicted: A, B):")
                for x in c.confusionChanges { print("  \(x.label) → \(x.predicted): \(x.countA), \(x.countB)") }
            }
            let shadow = report.agreement.reduce((0, 0)) { ($0.0 + $1.predictions, $0.1 + $1.agreements) }
            if shadow.0 > 0 { print(String(format: "\nshadow: %d predictions, %.1f %% agreement", shadow.0, Double(shadow.1) / Double(shadow.0) * 100)) }
            if let g = report.gate {
                print("\ngate: \(g.verdict.rawValue) (\(g.rule), \(g.stage.rawValue) stage)")
                for r in g.reasons { print("  \(r)") }
            }
        }
    }

    struct Promote: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make an adapter the production adapter now (an admin's override of the gate; audited). Every replica switches within seconds.")
        @Argument var version: String
        @Option(help: "Why (stored with the deployment).") var reason = "promoted from the command line"
        @Option(help: "The admin user to record as acting (default: the operating-system user).") var by: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let version = version, reason = reason, by = by
            let d = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in
                try await store.promote(version, by: .admin, actor: try await ModelsCommand.actor(store, by: by), reason: reason)
            }
            print("promoted \(d.adapterVersion) (replacing \(d.previousVersion ?? "none")); deployment \(d.id)")
        }
    }

    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Return production to the adapter the current one replaced (audited). Every replica switches within seconds.")
        @Option(help: "Why (stored with the deployment).") var reason = "rolled back from the command line"
        @Option(help: "The admin user to record as acting (default: the operating-system user).") var by: String?
        @Option(help: "Only if this is the production adapter now (so that a repeated command does not roll back twice).") var from: String?
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let reason = reason, by = by, from = from
            let d = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in
                try await store.rollback(actor: try await ModelsCommand.actor(store, by: by), reason: reason, from: from)
            }
            print("rolled back to \(d.adapterVersion) (retiring \(d.previousVersion ?? "none")); deployment \(d.id)")
        }
    }

    struct Deployments: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every change of the production adapter, newest first.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let list = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in try await store.deployments(limit: 1000) }
            if json { return printJSON(["deployments": list]) }
            print("id\taction\tadapter\tprevious\tby\twhen\treason")
            for d in list { print("\(d.id)\t\(d.action)\t\(d.adapterVersion)\t\(d.previousVersion ?? "-")\t\(d.actorName)\t\(iso(d.createdAt))\t\(d.reason)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every adapter, newest first, with status, lineage and metrics.")
        @OptionGroup var database: DatabaseOptions
        @Flag(help: "One JSON document.") var json = false

        func run() async throws {
            let adapters = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ in try await store.adapters() }
            if json { return printJSON(["adapters": adapters]) }
            print("version\tstatus\tintents\tparent\tjob\tfeedback\tgolden\tcreated")
            for a in adapters {
                let feedback = a.feedbackTo.map { "\(a.feedbackFrom ?? 0)–\($0)" } ?? "-"
                print("\(a.version)\t\(a.status.rawValue)\t\(a.labels.count)\t\(a.parentVersion ?? "-")\t\(a.jobID.map(String.init) ?? "-")\t\(feedback)\t\(a.metrics["golden_accuracy"] ?? "-")\t\(iso(a.createdAt))")
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an adapter's files (PEFT layout + labels.json + intentloop.json), verified against their SHA-256, to a folder.")
        @Argument var version: String
        @Option(help: "Folder to write (created; must be empty or missing).") var out: String
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let target = URL(fileURLWithPath: out, isDirectory: true)
            let fm = FileManager.default
            if let existing = try? fm.contentsOfDirectory(atPath: target.path), !existing.isEmpty {
                throw CLIFailure(message: "--out \(out) is not empty")
            }
            let version = version, cacheDirectory = database.dataDirectory
            let (record, folder) = try await database.withStore(logger: quietLogger("intentloop.models")) { store, _ -> (AdapterRecord, URL) in
                guard let found = try await store.adapter(version: version) else { throw CLIFailure(message: "no adapter '\(version)'") }
                guard found.status != .training && found.status != .failed else {
                    throw CLIFailure(message: "adapter \(version) is \(found.status.rawValue): it has no files")
                }
                let record = try await store.adoptLegacyAdapter(found)
                return (record, try await Bootstrap.adapterCache(cacheDirectory).folder(for: record, store: store))
            }
            try fm.createDirectory(at: target, withIntermediateDirectories: true)
            for name in record.files.keys.sorted() {
                try fm.copyItem(at: folder.appendingPathComponent(name), to: target.appendingPathComponent(name))
            }
            try Self.loadingNotes(record).write(to: target.appendingPathComponent("README.md"), atomically: true, encoding: .utf8)
            if let loader = ResourceDirectory.python?.appendingPathComponent("intentloop_adapter.py"), fm.fileExists(atPath: loader.path) {
                try fm.copyItem(at: loader, to: target.appendingPathComponent("intentloop_adapter.py"))
            }
            print("exported \(record.version) (\(record.status.rawValue), sha256 \(record.sha256 ?? "-")) to \(out)")
        }

        /// How to load the folder in Python: the head reads mean-pooled states, which the standard
        /// sequence-classification class does not.
        static func loadingNotes(_ record: AdapterRecord) -> String {
            """
            # IntentLoop adapter \(record.version)

            LoRA adapter (PEFT layout, `task_type` FEATURE_EXTRACTION) + an intent head for the base model named in
            `adapter_config.json`; \(record.labels.count) intents in `labels.json`, in head order. Manifest SHA-256 \(record.sha256 ?? "-").

            The head (`base_model.model.intentloop_head`) reads the **mean** of the encoder's last hidden states over
            the attention mask, not BERT's [CLS] pooler, so `AutoModelForSequenceClassification` is the wrong class.
            `intentloop_adapter.py` (beside this file; in IntentLoop's repository at ops/python/) reproduces `intentloop predict`:

            ```python
            from intentloop_adapter import load
            predict = load("THIS_FOLDER", "path/to/all-MiniLM-L6-v2")
            predict(["where is my parcel"])   # [(intent, confidence)]
            ```

            """
        }
    }
}
