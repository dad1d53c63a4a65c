import Foundation

/// The scheduler's decisions, as values: which slot is due, and whether it runs.
public enum SchedulePlan {
    /// The latest slot in (`cursor`, `now`], or nil when none fell due. Older missed slots are
    /// not replayed one by one: one run catches up on everything.
    public static func dueSlot(_ cron: CronSchedule, after cursor: Date, now: Date) -> Date? {
        var due: Date?
        var t = cursor
        while let next = cron.next(after: t), next <= now {
            due = next
            t = next
        }
        return due
    }

    /// The unique key of a slot: every scheduler computes the same one for the same minute.
    public static func slotKey(_ slot: Date, kind: String = "train") -> String {
        let f = ISO8601DateFormatter()
        f.timeZone = TimeZone(identifier: "UTC")
        return "\(kind)@\(f.string(from: slot))"
    }

    /// Why a due slot does not train (too little new feedback), or nil when it does.
    public static func skipReason(newFeedback: Int, minimum: Int) -> String? {
        newFeedback >= minimum ? nil
            : "only \(newFeedback) new feedback item\(newFeedback == 1 ? "" : "s") since the last training (the minimum is \(minimum))"
    }
}
