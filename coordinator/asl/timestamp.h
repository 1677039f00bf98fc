/* asl/timestamp.h - RFC 3339 timestamps as Step Functions accepts them.
 *
 * Accepted: "2016-03-14T01:59:00Z", "2016-03-14T01:59:00.123Z",
 * "2016-03-14T01:59:00+01:00": date, 'T', time, optional fraction, and a
 * mandatory zone ('Z' or +hh:mm / -hh:mm). Anything else is refused. */
#ifndef ASL_TIMESTAMP_H
#define ASL_TIMESTAMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Parses s into nanoseconds since the Unix epoch (UTC). False when s is not
 * a valid timestamp (including impossible dates such as Feb 30). */
bool asl_timestamp_parse(const char *s, int64_t *ns_out);

/* The same grammar with an explicit length (s need not be NUL-terminated;
 * an embedded NUL makes it invalid) and a result that covers every year the
 * grammar allows (0000-9999): whole seconds since the epoch, which may be
 * negative, and 0..999999999 ns within that second. asl_timestamp_parse
 * reports instants outside int64 ns (before 1677-09-21 or after 2262-04-11)
 * saturated to INT64_MIN / INT64_MAX; compare with this form instead. */
bool asl_timestamp_parse_parts(const char *s, size_t len, int64_t *sec_out, int32_t *nsec_out);

/* Formats ms since the epoch as AWS prints times in the context object:
 * "2024-01-31T12:00:00.123Z". buf must hold 32 bytes. */
void asl_timestamp_format_ms(int64_t ms, char buf[32]);

#endif
