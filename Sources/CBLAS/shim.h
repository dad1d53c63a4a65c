// OpenBLAS's CBLAS interface (Debian: libopenblas-dev). The multiarch include directory holds
// the pthread variant's header, which also declares openblas_set_num_threads.
#if __has_include(<openblas-pthread/cblas.h>)
#include <openblas-pthread/cblas.h>
#elif __has_include(<openblas/cblas.h>)
#include <openblas/cblas.h>
#else
#include <cblas.h>
#endif

#ifdef __linux__
#include <unistd.h>
#include <sys/syscall.h>
// The calling thread's kernel id (Swift cannot call the variadic syscall(2) itself); Linux
// priorities (nice) are per thread.
static inline int intentloop_thread_id(void) { return (int)syscall(SYS_gettid); }

#include <sched.h>
#ifndef SCHED_IDLE
#define SCHED_IDLE 5
#endif
// Moves the calling thread to SCHED_IDLE: it runs only when its core has nothing else to run.
static inline int intentloop_thread_background(void) {
    struct sched_param p = { .sched_priority = 0 };
    return sched_setscheduler(0, SCHED_IDLE, &p);
}
#endif
