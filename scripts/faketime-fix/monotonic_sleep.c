/*
 * Preloaded before libfaketime by scripts/at-instants.
 *
 * libfaketime 0.9.10 (Debian 12) with DONT_FAKE_MONOTONIC=1 turns an absolute
 * clock_nanosleep on CLOCK_MONOTONIC into an invalid request (EINVAL), so Python's
 * time.sleep fails, and with it subprocess.wait(timeout=...). With the monotonic clock
 * left real, such a sleep needs no translation: hand it to the kernel directly. Every
 * other clock (the faked realtime one) still goes through libfaketime.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
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
