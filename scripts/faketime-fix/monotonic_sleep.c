/*
 * Preloaded before libfaketime by scripts/at-instants.
 *
 * libfaketime 0.9.10 (Debian 12) with DONT_FAKE_MONOTONIC=1 turns an absolute
 * clock_nanosleep on CLOCK_MONOTONIC into an invalid request (EINVAL), so Python's
 * time.sleep fails, and with it subprocess.wait(timeout=...). With the monotonic clock
 * left real, such a sleep needs no translation: hand it to the kernel directly. Every
 * other clock (the faked realtime one) still goes through libfaketime.
 *
 * The same holds for a timed wait on a condition variable that runs on CLOCK_MONOTONIC,
 * which is every one of CPython's (its locks and the GIL). libfaketime's
 * pthread_cond_timedwait mistimes those (measured: a thread-heavy test, aiosqlite's worker
 * threads handing over the GIL, used 6x the CPU and ran 5x longer under at-instants), so
 * they go to glibc's pthread_cond_clockwait on the real monotonic clock. A condition
 * variable on CLOCK_REALTIME still goes through libfaketime, which translates its fake
 * deadline.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

int clock_nanosleep(clockid_t clock_id, int flags, const struct timespec *request,
                    struct timespec *remain) {
    if (clock_id == CLOCK_MONOTONIC || clock_id == CLOCK_MONOTONIC_RAW ||
        clock_id == CLOCK_BOOTTIME) {
        long rc = syscall(SYS_clock_nanosleep, clock_id, flags, request, remain);
        return rc == 0 ? 0 : errno;  /* clock_nanosleep returns the error number */
    }
    static int (*next)(clockid_t, int, const struct timespec *, struct timespec *);
    if (next == NULL) {
        next = (int (*)(clockid_t, int, const struct timespec *, struct timespec *))
            dlsym(RTLD_NEXT, "clock_nanosleep");
    }
    return next(clock_id, flags, request, remain);
}

/* Which bit of __wrefs says CLOCK_MONOTONIC (glibc keeps a condition variable's clock there;
 * 2 in glibc 2.36): found once by initialising one condition variable of each clock, so
 * that another glibc cannot make this guess wrong. 0: not found, every wait goes through
 * libfaketime as without this shim. */
static unsigned int monotonic_mask(void) {
    static int known;
    static unsigned int mask;
    if (!__atomic_load_n(&known, __ATOMIC_ACQUIRE)) {
        pthread_condattr_t attr;
        pthread_cond_t monotonic, realtime;
        unsigned int found = 0;
        if (pthread_condattr_init(&attr) == 0
                && pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0
                && pthread_cond_init(&monotonic, &attr) == 0) {
            if (pthread_cond_init(&realtime, NULL) == 0) {
                found = monotonic.__data.__wrefs ^ realtime.__data.__wrefs;
                if (found == 0 || (found & (found - 1)) != 0) {
                    found = 0;  /* not exactly one bit: do not guess */
                }
                pthread_cond_destroy(&realtime);
            }
            pthread_cond_destroy(&monotonic);
        }
        pthread_condattr_destroy(&attr);
        mask = found;
        __atomic_store_n(&known, 1, __ATOMIC_RELEASE);
    }
    return mask;
}

int pthread_cond_timedwait(pthread_cond_t *restrict cond, pthread_mutex_t *restrict mutex,
                           const struct timespec *restrict abstime) {
    unsigned int mask = monotonic_mask();
    if (mask != 0 && (__atomic_load_n(&cond->__data.__wrefs, __ATOMIC_RELAXED) & mask)) {
        static int (*clockwait)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                                const struct timespec *);
        if (clockwait == NULL) {  /* glibc's: libfaketime does not wrap this one */
            clockwait = (int (*)(pthread_cond_t *, pthread_mutex_t *, clockid_t,
                                 const struct timespec *))
                dlsym(RTLD_NEXT, "pthread_cond_clockwait");
        }
        if (clockwait != NULL) {
            return clockwait(cond, mutex, CLOCK_MONOTONIC, abstime);
        }
    }
    static int (*next)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *);
    if (next == NULL) {
        next = (int (*)(pthread_cond_t *, pthread_mutex_t *, const struct timespec *))
            dlvsym(RTLD_NEXT, "pthread_cond_timedwait", "GLIBC_2.3.2");
    }
    return next(cond, mutex, abstime);
}
