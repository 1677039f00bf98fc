/* common/sf_log.c - see sf_log.h. */
#define _POSIX_C_SOURCE 200809L
#include "sf_log.h"

#include <stdio.h>
#include <time.h>

static int64_t clock_ms(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sf_monotonic_ms(void)
{
    return clock_ms(CLOCK_MONOTONIC);
}

int64_t sf_realtime_ms(void)
{
    return clock_ms(CLOCK_REALTIME);
}

void sf_vlog(const char *prefix, const char *fmt, va_list ap)
{
    char line[4096];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "%s: %s\n", prefix, line);
}

sf_rc sf_errf(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}
