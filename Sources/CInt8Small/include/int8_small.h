// Integer GEMM for a few rows over weights packed once at load (AVX2). oneDNN repacks the whole
// weight on every call, which at a dozen rows (one utterance) costs as much as the arithmetic;
// this kernel streams a pre-packed weight once per group of 4 rows instead.
#pragma once
#include <stdint.h>

// Bytes a packed copy of an [n, k] int8 weight needs: n rounded up to 16 columns, times k
// rounded up to 4.
int64_t intentloop_small_packed_size(int64_t n, int64_t k);

// Lays out w [n, k] (row-major, PyTorch's [out, in]) as tiles of 16 output columns, each a run of
// k/4 groups of 16 columns × 4 consecutive k (zero-padded), the order the kernel reads.
void intentloop_small_pack(int8_t *packed, const int8_t *w, int64_t n, int64_t k);

// c[r, j] = Σ_k a[r, k] · w[j, k] in int32 for r < m and the columns of tiles [t0, t1), where
// tile t holds columns 16t ..< 16t + 16 (columns ≥ n are not written). Weights must satisfy
// |w| ≤ 63: the kernel adds pairs of u8·s8 products in int16 (vpmaddubsw), which that bound
// keeps from saturating. Returns 0, or -1 when this CPU has no AVX2 (nothing is written).
int intentloop_small_gemm(int32_t *c, int64_t ldc, const uint8_t *a, int64_t lda, const int8_t *packed,
                          int64_t m, int64_t n, int64_t k, int64_t t0, int64_t t1);
