/// Percentile bootstrap intervals over items (Efron & Tibshirani 1993, ch. 13): resample the n items
/// with replacement, recompute the statistic, and take the α/2 and 1 − α/2 percentiles
/// (α = 1 − confidence) of the resampled values, with numpy's default linear interpolation.
///
/// Paired: one set of resampled item indices serves both models, so the interval of a difference
/// keeps the correlation between the models' outcomes on the same utterances.
///
/// Every function is deterministic for a seed (a `SplitMix64` stream). Draw i of a resample is the
/// i-th index of that resample, so `accuracyDifference` and `interval(count:…)` with the same seed
/// and statistic give identical intervals.
public enum PairedBootstrap {
    /// acc(candidate) − acc(baseline) on the same items, with its percentile bootstrap interval.
    ///
    /// The estimate is the exact difference of the two accuracies; the resampled statistic is the mean
    /// of dᵢ = candidateᵢ − baselineᵢ ∈ {−1, 0, 1} over the drawn items, summed in place (no allocation
    /// per resample: 5,000 items × 2,000 resamples is 10⁷ draws). Empty input (no items): estimate 0
    /// and the interval [0, 0]: no evidence of a difference, by convention rather than by inference;
    /// a gate should also require a minimum number of items.
    public static func accuracyDifference(candidate: [Bool], baseline: [Bool], resamples: Int = 2000,
                                          confidence: Double = 0.95, seed: UInt64 = 1) -> Interval {
        precondition(candidate.count == baseline.count,
                     "accuracyDifference: \(candidate.count) candidate outcomes but \(baseline.count) baseline outcomes")
        checkArguments(resamples: resamples, confidence: confidence)
        let n = candidate.count
        guard n > 0 else { return Interval(estimate: 0, lower: 0, upper: 0) }
        var differences = [Int](repeating: 0, count: n)
        var candidateRight = 0, baselineRight = 0
        for i in 0..<n {
            if candidate[i] { candidateRight += 1 }
            if baseline[i] { baselineRight += 1 }
            differences[i] = (candidate[i] ? 1 : 0) - (baseline[i] ? 1 : 0)
        }
        let estimate = Double(candidateRight) / Double(n) - Double(baselineRight) / Double(n)
        var values = [Double](repeating: 0, count: resamples)
        var rng = SplitMix64(seed: seed)
        differences.withUnsafeBufferPointer { d in
            values.withUnsafeMutableBufferPointer { values in
                for r in 0..<resamples {
                    var sum = 0
                    for _ in 0..<n { sum &+= d[rng.index(below: n)] }
                    values[r] = Double(sum) / Double(n)
                }
            }
        }
        values.sort()
        return percentileInterval(estimate: estimate, sortedReplicates: values, confidence: confidence)
    }

    /// Macro-F1 of one model (`truth` and `predicted` as class indices in 0..<`classes`) with its
    /// percentile bootstrap interval.
    ///
    /// Macro-F1 is the mean, over the classes that occur in the (resampled) truth or predictions, of
    /// F1 = 2·TP / (2·TP + FP + FN), as scikit-learn's `f1_score(average="macro")` without `labels=`
    /// (and `ClassificationReport.macroF1`). Empty input: estimate 0, interval [0, 0], whatever
    /// `classes` is (0 included: no items, no labels).
    public static func macroF1Interval(truth: [Int], predicted: [Int], classes: Int, resamples: Int = 2000,
                                       confidence: Double = 0.95, seed: UInt64 = 1) -> Interval {
        precondition(truth.count == predicted.count,
                     "macroF1Interval: \(truth.count) true labels but \(predicted.count) predictions")
        checkArguments(resamples: resamples, confidence: confidence)
        guard !truth.isEmpty else { return Interval(estimate: 0, lower: 0, upper: 0) }
        precondition(classes > 0 && truth.allSatisfy { (0..<classes).contains($0) }
                        && predicted.allSatisfy { (0..<classes).contains($0) },
                     "macroF1Interval: labels must be class indices in 0..<\(classes)")
        // Scratch counts, allocated once: true positives, support (truth), predicted count per class.
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: 3 * classes)
        defer { counts.deallocate() }
        return truth.withUnsafeBufferPointer { truth in
            predicted.withUnsafeBufferPointer { predicted in
                interval(count: truth.count, resamples: resamples, confidence: confidence, seed: seed) { indices in
                    counts.update(repeating: 0)
                    for i in indices {
                        let t = truth[i], p = predicted[i]
                        if t == p { counts[t] += 1 }
                        counts[classes + t] += 1
                        counts[2 * classes + p] += 1
                    }
                    return macroF1(truePositives: counts[0..<classes], support: counts[classes..<(2 * classes)],
                                   predicted: counts[(2 * classes)...])
                }
            }
        }
    }

    /// The statistic on the original items (estimate) and its percentile bootstrap interval.
    ///
    /// `statistic` receives the item indices of one sample (0..<n in order for the estimate, then
    /// each resample's n draws with replacement) and must not keep the buffer, which is reused.
    public static func interval(count n: Int, resamples: Int = 2000, confidence: Double = 0.95, seed: UInt64 = 1,
                                statistic: (_ indices: UnsafeBufferPointer<Int>) -> Double) -> Interval {
        checkArguments(resamples: resamples, confidence: confidence)
        let estimate = Array(0..<n).withUnsafeBufferPointer { statistic($0) }
        let values = replicates(count: n, resamples: resamples, seed: seed, statistic: statistic)
        return percentileInterval(estimate: estimate, sortedReplicates: values.sorted(), confidence: confidence)
    }

    /// The statistic on each of `resamples` resamples of n items (in resample order): the bootstrap
    /// distribution, for callers that want more than an interval. `statistic` gets the drawn item
    /// indices (n of them, with replacement) in a buffer that is reused for every resample.
    public static func replicates(count n: Int, resamples: Int = 2000, seed: UInt64 = 1,
                                  statistic: (_ indices: UnsafeBufferPointer<Int>) -> Double) -> [Double] {
        precondition(n >= 0, "replicates: count must be non-negative, got \(n)")
        precondition(resamples > 0, "replicates: resamples must be positive, got \(resamples)")
        let indices = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(n, 1))
        defer { indices.deallocate() }
        let sample = UnsafeBufferPointer(rebasing: indices[0..<n])
        var rng = SplitMix64(seed: seed)
        var values = [Double]()
        values.reserveCapacity(resamples)
        for _ in 0..<resamples {
            for j in 0..<n { indices[j] = rng.index(below: n) }
            values.append(statistic(sample))
        }
        return values
    }

    /// [percentile(α/2·100), percentile((1 − α/2)·100)] of the sorted replicates, α = 1 − confidence.
    public static func percentileInterval(estimate: Double, sortedReplicates: [Double], confidence: Double) -> Interval {
        precondition(confidence > 0 && confidence < 1, "percentileInterval: confidence must be in (0, 1), got \(confidence)")
        let alpha = 1 - confidence
        return Interval(estimate: estimate, lower: percentile(sortedReplicates, alpha / 2 * 100),
                        upper: percentile(sortedReplicates, (1 - alpha / 2) * 100))
    }

    private static func checkArguments(resamples: Int, confidence: Double) {
        precondition(resamples > 0, "bootstrap: resamples must be positive, got \(resamples)")
        precondition(confidence > 0 && confidence < 1, "bootstrap: confidence must be in (0, 1), got \(confidence)")
    }
}

/// Mean F1 = 2·TP / (support + predicted) over the classes with support + predicted > 0; 0 if none.
func macroF1<C: Collection<Int>>(truePositives: C, support: C, predicted: C) -> Double {
    var total = 0.0, present = 0
    for (tp, (s, p)) in zip(truePositives, zip(support, predicted)) where s + p > 0 {
        total += Double(2 * tp) / Double(s + p)
        present += 1
    }
    return present == 0 ? 0 : total / Double(present)
}
