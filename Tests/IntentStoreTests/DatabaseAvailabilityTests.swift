import IntentStore
import Testing

/// The database availability state machine, as a table of events and expected states/changes.
@Suite struct DatabaseAvailabilityTests {
    enum Event: Sendable { case ok, fail }

    struct Row: Sendable {
        let events: [Event]
        let changes: [DatabaseAvailability.Change]
        let final: DatabaseAvailability.State
        init(_ events: [Event], _ changes: [DatabaseAvailability.Change], _ final: DatabaseAvailability.State) {
            self.events = events
            self.changes = changes
            self.final = final
        }
    }

    @Test(arguments: [
        // one lost probe is not an outage
        Row([.fail], [.none], .up(failures: 1)),
        Row([.fail, .ok], [.none, .none], .up(failures: 0)),
        // two in a row are
        Row([.fail, .fail], [.none, .wentDown], .down),
        Row([.fail, .fail, .fail], [.none, .wentDown, .none], .down),
        Row([.fail, .fail, .ok], [.none, .wentDown, .cameBack], .up(failures: 0)),
        Row([.fail, .fail, .ok, .fail], [.none, .wentDown, .cameBack, .none], .up(failures: 1)),
        Row([.fail, .ok, .fail], [.none, .none, .none], .up(failures: 1)),
        Row([.ok, .ok], [.none, .none], .up(failures: 0)),
    ])
    func transitions(_ row: Row) {
        let (events, changes, final) = (row.events, row.changes, row.final)
        var machine = DatabaseAvailability(failuresToDown: 2)
        var seen: [DatabaseAvailability.Change] = []
        for event in events {
            switch event {
            case .ok: seen.append(machine.probeSucceeded())
            case .fail: seen.append(machine.probeFailed())
            }
        }
        #expect(seen == changes)
        #expect(machine.state == final)
        #expect(machine.isUp == (final != .down))
    }

    @Test func oneFailureSufficesWhenConfigured() {
        var machine = DatabaseAvailability(failuresToDown: 1)
        #expect(machine.probeFailed() == .wentDown)
    }
}
