import Foundation
import LoopCore
import Testing

@Suite struct CronScheduleTests {
    static let utc = TimeZone(identifier: "UTC")!

    static func date(_ text: String) -> Date {
        let f = ISO8601DateFormatter()
        return f.date(from: text)!
    }

    static func iso(_ date: Date?, zone: TimeZone = utc) -> String {
        guard let date else { return "never" }
        let f = ISO8601DateFormatter()
        f.timeZone = zone
        return f.string(from: date)
    }

    // (expression, after, next)
    static let table: [(String, String, String)] = [
        ("0 3 * * 1", "2026-12-02T10:00:00Z", "2026-12-07T03:00:00Z"),       // the default: Mondays 03:00
        ("0 3 * * 1", "2026-12-07T03:00:00Z", "2026-12-14T03:00:00Z"),       // strictly after
        ("0 3 * * 1", "2026-12-07T02:59:59Z", "2026-12-07T03:00:00Z"),
        ("*/15 * * * *", "2026-12-02T10:07:30Z", "2026-12-02T10:15:00Z"),    // step
        ("5-10/2 * * * *", "2026-12-02T10:06:00Z", "2026-12-02T10:07:00Z"),  // range with step
        ("5/20 * * * *", "2026-12-02T10:26:00Z", "2026-12-02T10:45:00Z"),    // a/n = a-max/n
        ("0,30 9-17 * * *", "2026-12-02T17:31:00Z", "2026-12-03T09:00:00Z"), // list and range
        ("0 0 1 * *", "2026-12-02T00:00:00Z", "2027-01-01T00:00:00Z"),       // month rollover
        ("0 0 29 2 *", "2027-01-01T00:00:00Z", "2028-02-29T00:00:00Z"),      // leap day
        ("0 0 31 * *", "2026-11-01T00:00:00Z", "2026-12-31T00:00:00Z"),      // skips a 30-day month
        ("0 0 13 * 5", "2026-12-02T00:00:00Z", "2026-12-04T00:00:00Z"),      // both day fields: either (Fri 4th)
        ("0 0 * * 7", "2026-12-02T00:00:00Z", "2026-12-06T00:00:00Z"),       // 7 = Sunday
        ("0 0 * * sun", "2026-12-02T00:00:00Z", "2026-12-06T00:00:00Z"),     // names
        ("0 0 1 jan-mar *", "2026-12-02T00:00:00Z", "2027-01-01T00:00:00Z"),
        ("0 12 * * mon-fri", "2026-12-05T13:00:00Z", "2026-12-07T12:00:00Z"),// weekend skipped
        ("@daily", "2026-12-02T10:00:00Z", "2026-12-03T00:00:00Z"),
        ("@hourly", "2026-12-02T10:00:00Z", "2026-12-02T11:00:00Z"),
    ]

    @Test(arguments: table)
    func nextFireTime(expression: String, after: String, next: String) throws {
        let cron = try CronSchedule(expression)
        #expect(Self.iso(cron.next(after: Self.date(after))) == next)
    }

    @Test func timeZoneIsHonouredAcrossDaylightSaving() throws {
        let paris = TimeZone(identifier: "Europe/Paris")!
        let cron = try CronSchedule("0 3 * * *", timeZone: paris)
        // 03:00 in Paris is 01:00 UTC in summer (CEST) and 02:00 UTC in winter (CET).
        #expect(Self.iso(cron.next(after: Self.date("2026-07-01T00:00:00Z"))) == "2026-07-01T01:00:00Z")
        #expect(Self.iso(cron.next(after: Self.date("2026-12-01T00:00:00Z"))) == "2026-12-01T02:00:00Z")
        // 02:30 does not exist on the spring-forward night in Paris: that day is skipped.
        let gap = try CronSchedule("30 2 * * *", timeZone: paris)
        #expect(Self.iso(gap.next(after: Self.date("2026-03-28T12:00:00Z"))) == "2026-03-30T00:30:00Z")
    }

    @Test(arguments: [
        ("0 3 * *", "has 4 fields"), ("60 * * * *", "minute"), ("* 24 * * *", "hour"), ("* * 0 * *", "day of month"),
        ("* * * 13 *", "month"), ("* * * * 8", "day of week"), ("*/0 * * * *", "step"), ("5-1 * * * *", "backwards"),
        ("a * * * *", "minute"), ("1,,2 * * * *", "minute"), ("0 0 30 2 *", "never fires"), ("", "has 0 fields"),
        ("0 0 * * mon-sun-x", "day of week"),
    ])
    func refusedWithTheFieldNamed(expression: String, message: String) {
        #expect {
            _ = try CronSchedule(expression)
        } throws: { error in
            (error as? CronError)?.description.contains(message) == true
        }
    }
}

@Suite struct SchedulePlanTests {
    @Test func dueSlotIsTheLatestPassedOne() throws {
        let cron = try CronSchedule("0 * * * *")
        let d = CronScheduleTests.date
        #expect(SchedulePlan.dueSlot(cron, after: d("2026-12-02T10:00:00Z"), now: d("2026-12-02T10:59:59Z")) == nil)
        #expect(SchedulePlan.dueSlot(cron, after: d("2026-12-02T10:00:00Z"), now: d("2026-12-02T11:00:00Z")) == d("2026-12-02T11:00:00Z"))
        #expect(SchedulePlan.dueSlot(cron, after: d("2026-12-02T07:30:00Z"), now: d("2026-12-02T11:10:00Z")) == d("2026-12-02T11:00:00Z"))
        #expect(SchedulePlan.slotKey(d("2026-12-07T03:00:00Z")) == "train@2026-12-07T03:00:00Z")
    }

    @Test func skipReasonNamesTheCounts() {
        #expect(SchedulePlan.skipReason(newFeedback: 20, minimum: 20) == nil)
        #expect(SchedulePlan.skipReason(newFeedback: 1, minimum: 20) == "only 1 new feedback item since the last training (the minimum is 20)")
        #expect(SchedulePlan.skipReason(newFeedback: 0, minimum: 0) == nil)
    }
}
