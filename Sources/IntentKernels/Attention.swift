/// Number of attention probabilities `attentionForward` stores: Σ_b H · L_b².
public func attentionProbsCount(starts: UnsafePointer<Int>, sequences b: Int, heads h: Int) -> Int {
    var total = 0
    for s in 0..<b {
        let l = starts[s + 1] - starts[s]
        total += h * l * l
    }
    return total
}

/// Multi-head self-attention over packed sequences (no padding: sequence s owns rows
/// starts[s]..<starts[s+1], and attends only to its own rows — the same result as a padded
/// batch with an attention mask, without computing the padding).
///   qkv   [N, 3C]  query | key | value projections, head h in channels h·D..<(h+1)·D of each
///   out   [N, C]   Σ_j softmax_j(q_i·k_j / √D) v_j, per head
///   probs [Σ_b H·L_b²]  the softmax, saved for the backward pass (layout: sequence, head, i, j)
///   dropMask  nil, or attention-probability dropout in the layout of probs (0 or 1/(1−p), see
///             `dropoutMask`): out_i = Σ_j P_ij·m_ij·v_j; probs keeps the undropped softmax.
public func attentionForward(
    _ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
    _ qkv: UnsafePointer<Float>, starts: UnsafePointer<Int>, sequences b: Int,
    heads h: Int, channels c: Int, dropMask: UnsafePointer<Float>? = nil
) {
    precondition(h > 0 && c % h == 0, "attentionForward: \(c) channels do not split into \(h) heads")
    let d = c / h
    let scale = 1 / Float(d).squareRoot()
    let stride = 3 * c
    var p = probs
    var m = dropMask
    for s in 0..<b {
        let o = starts[s]
        let l = starts[s + 1] - o
        precondition(l >= 0, "attentionForward: sequence starts must not decrease")
        for head in 0..<h {
            for i in 0..<l {
                let q = qkv + (o + i) * stride + head * d
                let row = p + i * l
                for j in 0..<l { row[j] = dot(q, qkv + (o + j) * stride + c + head * d, count: d) * scale }
                softmaxForward(row, row, rows: 1, classes: l)
                let y = out + (o + i) * c + head * d
                y.update(repeating: 0, count: d)
                if let m {
                    let mrow = m + i * l
                    for j in 0..<l { axpy(y, row[j] * mrow[j], qkv + (o + j) * stride + 2 * c + head * d, count: d) }
                } else {
                    for j in 0..<l { axpy(y, row[j], qkv + (o + j) * stride + 2 * c + head * d, count: d) }
                }
            }
            p += l * l
            m = m.map { $0 + l * l }
        }
    }
}

/// Backward of `attentionForward` (with the same `dropMask`), accumulating into dqkv [N, 3C].
/// `scratch` holds at least max_b L_b Floats.
public func attentionBackward(
    dqkv: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, qkv: UnsafePointer<Float>,
    probs: UnsafePointer<Float>, scratch: UnsafeMutablePointer<Float>,
    starts: UnsafePointer<Int>, sequences b: Int, heads h: Int, channels c: Int, dropMask: UnsafePointer<Float>? = nil
) {
    precondition(h > 0 && c % h == 0, "attentionBackward: \(c) channels do not split into \(h) heads")
    let d = c / h
    let scale = 1 / Float(d).squareRoot()
    let stride = 3 * c
    var p = probs
    var m = dropMask
    for s in 0..<b {
        let o = starts[s]
        let l = starts[s + 1] - o
        for head in 0..<h {
            for i in 0..<l {
                let row = p + i * l
                let mrow = m.map { $0 + i * l }
                let dy = dout + (o + i) * c + head * d
                // dP_ij = m_ij (dy_i · v_j), and dv_j += P_ij m_ij dy_i (m = 1 without dropout)
                var rowDot: Float = 0
                for j in 0..<l {
                    let vOff = (o + j) * stride + 2 * c + head * d
                    let keep = mrow?[j] ?? 1
                    let dp = dot(dy, qkv + vOff, count: d) * keep
                    scratch[j] = dp
                    rowDot += dp * row[j]
                    axpy(dqkv + vOff, row[j] * keep, dy, count: d)
                }
                // dS_ij = P_ij (dP_ij − Σ_k P_ik dP_ik); scores were scaled q·k.
                let qOff = (o + i) * stride + head * d
                for j in 0..<l {
                    let ds = row[j] * (scratch[j] - rowDot) * scale
                    let kOff = (o + j) * stride + c + head * d
                    axpy(dqkv + qOff, ds, qkv + kOff, count: d)
                    axpy(dqkv + kOff, ds, qkv + qOff, count: d)
                }
            }
            p += l * l
            m = m.map { $0 + l * l }
        }
    }
}
