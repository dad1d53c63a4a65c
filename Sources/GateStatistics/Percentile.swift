extension PairedBootstrap {
    /// The q-th percentile (q in 0...100) of `sorted` (ascending, non-empty), exactly as numpy's
    /// default `np.percentile(a, q)` (method "linear", Hyndman & Fan type 7):
    ///
    ///     h = (n − 1)·q/100,  i = ⌊h⌋,  γ = h − i,  result = lerp(sorted[i], sorted[i + 1], γ)
    ///
    /// with numpy's lerp — a + (b − a)·γ for γ < ½, b − (b − a)·(1 − γ) otherwise — and sorted[n − 1]
    /// when h ≥ n − 1, so it matches numpy bit for bit, not only to rounding.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty, "percentile: empty array")
        precondition(q >= 0 && q <= 100, "percentile: q must be in [0, 100], got \(q)")
        let last = sorted.count - 1
        let h = Double(last) * (q / 100)
        if h >= Double(last) { return sorted[last] }
        let below = h.rounded(.down)
        let i = Int(below), gamma = h - below
        let a = sorted[i], b = sorted[i + 1], difference = b - a
        return gamma >= 0.5 ? b - difference * (1 - gamma) : a + difference * gamma
    }
}
