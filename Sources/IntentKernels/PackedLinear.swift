/// Output columns per tile of a packed weight.
public let packedTile = 16

/// Floats a packed copy of an [O, I] weight needs: O rounded up to whole tiles, times I.
public func packedWeightCount(inFeatures i: Int, outFeatures o: Int) -> Int {
    (o + packedTile - 1) / packedTile * packedTile * i
}

/// Re-lays a PyTorch-layout weight [O, I] as tiles [O/16][I][16] (zero-padded), so that the
/// few-rows kernel below streams each weight exactly once, contiguously. Done once at load.
public func packWeight(_ packed: UnsafeMutablePointer<Float>, _ weight: UnsafePointer<Float>, inFeatures i: Int, outFeatures o: Int) {
    let tiles = (o + packedTile - 1) / packedTile
    for t in 0..<tiles {
        for k in 0..<i {
            for j in 0..<packedTile {
                let col = t * packedTile + j
                packed[(t * i + k) * packedTile + j] = col < o ? weight[col * i + k] : 0
            }
        }
    }
}

/// `linearForward` for a few rows (single utterances, small micro-batches), over a packed weight.
/// OpenBLAS packs the whole weight on every sgemm call, which costs more than the arithmetic when
/// there are ~10 rows; here the weight is packed once at load and each tile of 16 outputs is
/// streamed once per group of 4 rows with 8 SIMD accumulators. Output tiles are split over
/// `threads` workers (Dispatch's pool, not Swift's cooperative pool).
public func packedLinearForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, packed: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, rows n: Int, inFeatures i: Int, outFeatures o: Int, threads: Int = 1
) {
    precondition(n >= 0 && i > 0 && o > 0, "packedLinearForward: bad shape [\(n), \(i)] -> \(o)")
    let tiles = (o + packedTile - 1) / packedTile
    parallelRanges(tiles, threads: threads) { range in
        packedLinearTiles(out, inp, packed, bias, n: n, i: i, o: o, tiles: range)
    }
}

/// Eight floats from any address (the kernels' unaligned vector load).
@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self) }

@inline(__always)
private func storeTile(_ y: UnsafeMutablePointer<Float>, _ lo: SIMD8<Float>, _ hi: SIMD8<Float>, _ width: Int) {
    if width == packedTile {
        UnsafeMutableRawPointer(y).storeBytes(of: lo, as: SIMD8<Float>.self)
        UnsafeMutableRawPointer(y + 8).storeBytes(of: hi, as: SIMD8<Float>.self)
    } else {
        for j in 0..<width { y[j] = j < 8 ? lo[j] : hi[j - 8] }
    }
}

private func packedLinearTiles(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ packed: UnsafePointer<Float>,
    _ bias: UnsafePointer<Float>?, n: Int, i: Int, o: Int, tiles: Range<Int>
) {
    for t in tiles {
        let col0 = t * packedTile
        let width = min(packedTile, o - col0)
        var b0 = SIMD8<Float>.zero, b1 = SIMD8<Float>.zero
        if let bias {
            for j in 0..<width { if j < 8 { b0[j] = bias[col0 + j] } else { b1[j - 8] = bias[col0 + j] } }
        }
        let w = packed + t * i * packedTile
        var r = 0
        while r < n {
            let rowsHere = min(4, n - r)
            // Rows beyond n in the last group read row r again; their results are not stored.
            let x0 = inp + r * i
            let x1 = inp + (r + min(1, rowsHere - 1)) * i
            let x2 = inp + (r + min(2, rowsHere - 1)) * i
            let x3 = inp + (r + min(3, rowsHere - 1)) * i
            var a00 = b0, a01 = b1, a10 = b0, a11 = b1, a20 = b0, a21 = b1, a30 = b0, a31 = b1
            for k in 0..<i {
                let w0 = load8(w + k * packedTile), w1 = load8(w + k * packedTile + 8)
                let v0 = SIMD8<Float>(repeating: x0[k]), v1 = SIMD8<Float>(repeating: x1[k])
                let v2 = SIMD8<Float>(repeating: x2[k]), v3 = SIMD8<Float>(repeating: x3[k])
                a00.addProduct(w0, v0); a01.addProduct(w1, v0)
                a10.addProduct(w0, v1); a11.addProduct(w1, v1)
                a20.addProduct(w0, v2); a21.addProduct(w1, v2)
                a30.addProduct(w0, v3); a31.addProduct(w1, v3)
            }
            let y = out + r * o + col0
            storeTile(y, a00, a01, width)
            if rowsHere > 1 { storeTile(y + o, a10, a11, width) }
            if rowsHere > 2 { storeTile(y + 2 * o, a20, a21, width) }
            if rowsHere > 3 { storeTile(y + 3 * o, a30, a31, width) }
            r += rowsHere
        }
    }
}
