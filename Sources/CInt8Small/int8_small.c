#include "int8_small.h"
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static int64_t round_up(int64_t x, int64_t to) { return (x + to - 1) / to * to; }

int64_t intentloop_small_packed_size(int64_t n, int64_t k) { return round_up(n, 16) * round_up(k, 4); }

void intentloop_small_pack(int8_t *packed, const int8_t *w, int64_t n, int64_t k) {
    int64_t tiles = round_up(n, 16) / 16, groups = round_up(k, 4) / 4;
    for (int64_t t = 0; t < tiles; t++)
        for (int64_t g = 0; g < groups; g++)
            for (int64_t j = 0; j < 16; j++)
                for (int64_t q = 0; q < 4; q++) {
                    int64_t col = t * 16 + j, kk = g * 4 + q;
                    packed[((t * groups + g) * 16 + j) * 4 + q] = (col < n && kk < k) ? w[col * k + kk] : 0;
                }
}

#if defined(__x86_64__)
// Four bytes of a row from position kk (zero beyond k), as one 32-bit lane.
static inline int32_t four(const uint8_t *row, int64_t kk, int64_t k) {
    if (kk + 4 <= k) {
        int32_t v;
        memcpy(&v, row + kk, 4);
        return v;
    }
    uint8_t b[4] = {0, 0, 0, 0};
    for (int64_t q = 0; kk + q < k; q++) b[q] = row[kk + q];
    int32_t v;
    memcpy(&v, b, 4);
    return v;
}

__attribute__((target("avx2")))
static inline void store_tile(int32_t *c, __m256i lo, __m256i hi, int64_t width) {
    if (width == 16) {
        _mm256_storeu_si256((__m256i *)c, lo);
        _mm256_storeu_si256((__m256i *)(c + 8), hi);
    } else {
        int32_t tmp[16];
        _mm256_storeu_si256((__m256i *)tmp, lo);
        _mm256_storeu_si256((__m256i *)(tmp + 8), hi);
        memcpy(c, tmp, (size_t)width * sizeof(int32_t));
    }
}

__attribute__((target("avx2")))
static void tiles_avx2(int32_t *c, int64_t ldc, const uint8_t *a, int64_t lda, const int8_t *packed,
                       int64_t m, int64_t n, int64_t k, int64_t t0, int64_t t1) {
    const int64_t groups = round_up(k, 4) / 4;
    const __m256i ones = _mm256_set1_epi16(1);
    for (int64_t t = t0; t < t1; t++) {
        const int8_t *w = packed + t * groups * 64;
        const int64_t width = n - t * 16 < 16 ? n - t * 16 : 16;
        for (int64_t r = 0; r < m; r += 4) {
            const int64_t rows = m - r < 4 ? m - r : 4;
            // Rows past m in the last group repeat row r; their sums are not stored.
            const uint8_t *x0 = a + r * lda;
            const uint8_t *x1 = a + (r + (rows > 1 ? 1 : 0)) * lda;
            const uint8_t *x2 = a + (r + (rows > 2 ? 2 : 0)) * lda;
            const uint8_t *x3 = a + (r + (rows > 3 ? 3 : 0)) * lda;
            __m256i s00 = _mm256_setzero_si256(), s01 = s00, s10 = s00, s11 = s00;
            __m256i s20 = s00, s21 = s00, s30 = s00, s31 = s00;
            for (int64_t g = 0; g < groups; g++) {
                const __m256i w0 = _mm256_loadu_si256((const __m256i *)(w + g * 64));
                const __m256i w1 = _mm256_loadu_si256((const __m256i *)(w + g * 64 + 32));
                const int64_t kk = g * 4;
                __m256i v;
                v = _mm256_set1_epi32(four(x0, kk, k));
                s00 = _mm256_add_epi32(s00, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
                s01 = _mm256_add_epi32(s01, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
                v = _mm256_set1_epi32(four(x1, kk, k));
                s10 = _mm256_add_epi32(s10, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
                s11 = _mm256_add_epi32(s11, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
                v = _mm256_set1_epi32(four(x2, kk, k));
                s20 = _mm256_add_epi32(s20, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
                s21 = _mm256_add_epi32(s21, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
                v = _mm256_set1_epi32(four(x3, kk, k));
                s30 = _mm256_add_epi32(s30, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w0), ones));
                s31 = _mm256_add_epi32(s31, _mm256_madd_epi16(_mm256_maddubs_epi16(v, w1), ones));
            }
            int32_t *y = c + r * ldc + t * 16;
            store_tile(y, s00, s01, width);
            if (rows > 1) store_tile(y + ldc, s10, s11, width);
            if (rows > 2) store_tile(y + 2 * ldc, s20, s21, width);
            if (rows > 3) store_tile(y + 3 * ldc, s30, s31, width);
        }
    }
}
#endif

int intentloop_small_gemm(int32_t *c, int64_t ldc, const uint8_t *a, int64_t lda, const int8_t *packed,
                          int64_t m, int64_t n, int64_t k, int64_t t0, int64_t t1) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) {
        tiles_avx2(c, ldc, a, lda, packed, m, n, k, t0, t1);
        return 0;
    }
#endif
    return -1;
}
