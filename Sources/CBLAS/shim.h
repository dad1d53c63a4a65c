// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). The multiarch include directory holds
// the pthread variant's header, which also declares openblas_set_num_threads.
#if __has_include(<openblas-pthread/cblas.h>)
#include <openblas-pthread/cblas.h>
#elif __has_include(<openblas/cblas.h>)
#include <openblas/cblas.h>
#else
#include <cblas.h>
#endif
