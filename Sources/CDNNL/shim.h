// oneDNN's integer GEMM (Debian: libdnnl-dev, built on GNU OpenMP). oneDNN picks its kernel from
// the CPU at run time (AVX2, AVX-512, AVX-512 VNNI, AVX-VNNI, AMX).
#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>

// OpenMP's two calls used here (libgomp; its omp.h sits in GCC's private include directory,
// which Swift's clang does not search).
int omp_get_max_threads(void);
void omp_set_num_threads(int);

// C[M, N] = A[M, K] (u8) · B[N, K]ᵀ (s8) in int32, row-major, on the calling thread only.
// IntentLoop splits the output columns over its own threads; an OpenMP team inside each call
// would oversubscribe the cores. omp_set_num_threads sets the calling thread's own value.
static inline int intentloop_gemm_u8s8s32(int64_t m, int64_t n, int64_t k,
                                          const uint8_t *a, int64_t lda,
                                          const int8_t *b, int64_t ldb,
                                          int32_t *c, int64_t ldc) {
    static const int32_t zero = 0;
    if (omp_get_max_threads() != 1) omp_set_num_threads(1);
    return (int)dnnl_gemm_u8s8s32('N', 'T', 'F', m, n, k, 1.0f, a, lda, 0, b, ldb, 0, 0.0f, c, ldc, &zero);
}

// What the integer GEMM can use on this CPU: 0 = no AVX2 (int8 falls back to fp32),
// 1 = AVX2 or AVX-512 without VNNI (u8·s8 pairs sum in int16: weights must keep 7 bits),
// 2 = a VNNI instruction set or AMX (int32 sums: full 8-bit weights).
// oneDNN's ISA values are bit sets, each containing the ISAs below it: test containment, so that
// ISAs newer than this header (AVX10, AMX-FP16…) still count.
static inline int intentloop_int8_level(void) {
    unsigned isa = (unsigned)dnnl_get_effective_cpu_isa();
    unsigned vnni256 = (unsigned)dnnl_cpu_isa_avx2_vnni, vnni512 = (unsigned)dnnl_cpu_isa_avx512_core_vnni;
    unsigned avx2 = (unsigned)dnnl_cpu_isa_avx2;
    if ((isa & vnni256) == vnni256 || (isa & vnni512) == vnni512) return 2;
    if ((isa & avx2) == avx2) return 1;
    return 0;
}
