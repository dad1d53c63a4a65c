/// Sum of word, position and token-type embeddings for packed sequences.
///   out [N, C];  ids [N];  types [N] or nil (type 0, or a model without token types)
///   positions restart at 0 at every sequence start (starts [B+1]).
public func embeddingForward(
    _ out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, types: UnsafePointer<Int32>?,
    starts: UnsafePointer<Int>, sequences b: Int,
    wordTable: UnsafePointer<Float>, vocabulary v: Int,
    positionTable: UnsafePointer<Float>, maxPositions: Int,
    typeTable: UnsafePointer<Float>?, typeCount: Int, channels c: Int
) {
    for s in 0..<b {
        let o = starts[s]
        let l = starts[s + 1] - o
        precondition(l <= maxPositions, "embeddingForward: sequence of \(l) tokens exceeds \(maxPositions) positions")
        for t in 0..<l {
            let row = out + (o + t) * c
            let id = Int(ids[o + t])
            precondition(id >= 0 && id < v, "embeddingForward: token id \(id) outside vocabulary of \(v)")
            let w = wordTable + id * c
            let pos = positionTable + t * c
            if let typeTable {
                let type = Int(types?[o + t] ?? 0)
                precondition(type >= 0 && type < typeCount, "embeddingForward: token type \(type) outside \(typeCount)")
                let tt = typeTable + type * c
                for j in 0..<c { row[j] = w[j] + pos[j] + tt[j] }
            } else {
                for j in 0..<c { row[j] = w[j] + pos[j] }
            }
        }
    }
}
