/* common/sf_log.h - clocks, log lines and error messages, the same way in
 * every program (coordinator, worker, command line). */
#ifndef SF_LOG_H
#define SF_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "sf_rc.h"

/* Milliseconds: since an arbitrary start (for timeouts and rates), and
 * since the epoch (for what people and AWS's dates read). */
int64_t sf_monotonic_ms(void);
int64_t sf_realtime_ms(void);

/* Writes "PREFIX: MESSAGE\n" to stderr in one call, so that lines from
 * several threads or processes sharing the stream do not interleave. */
void sf_vlog(const char *prefix, const char *fmt, va_list ap);

/* Formats a message into err (when err and errlen allow) and returns rc:
 * `return sf_errf(err, errlen, SF_EINVAL, "...", ...)`. */
sf_rc sf_errf(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
