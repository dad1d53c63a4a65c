import CBLAS

/// Thread count of OpenBLAS's own pool, process wide. Call it before work starts; it does not
/// change the thread count of a matrix product already running.
public func setBLASThreads(_ count: Int) {
    precondition(count >= 1, "BLAS thread count must be at least 1")
    openblas_set_num_threads(Int32(count))
}

/// The OpenBLAS pool's current thread count.
public func blasThreads() -> Int { Int(openblas_get_num_threads()) }

/// OpenBLAS's build description (version, kernel, threading), for benchmark reports.
public func blasConfiguration() -> String {
    guard let config = openblas_get_config() else { return "unknown" }
    return String(cString: config)
}

/// C[M, N] = alpha · op(A) · op(B) + beta · C, row-major, one `cblas_sgemm` call.
/// `transA`/`transB` say whether A is stored [K, M] / B is stored [N, K]. Leading dimensions
/// default to dense storage; pass them to work on a column slice of a wider block (e.g. the
/// query third of a fused [N, 3C] projection).
@inline(__always)
public func gemm(
    _ c: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
    m: Int, n: Int, k: Int, transA: Bool = false, transB: Bool = false,
    alpha: Float = 1, beta: Float = 0, lda: Int? = nil, ldb: Int? = nil, ldc: Int? = nil
) {
    guard m > 0, n > 0 else { return }
    cblas_sgemm(
        CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k), alpha,
        a, Int32(lda ?? (transA ? m : k)), b, Int32(ldb ?? (transB ? k : n)), beta, c, Int32(ldc ?? n)
    )
}
