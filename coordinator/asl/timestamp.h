/* asl/timestamp.h - RFC 3339 timestamps as Step Functions accepts them.
 *
 * Accepted: "2016-03-14T01:59:00Z", "2016-03-14T01:59:00.123Z",
 * "2016-03-14T01:59:00+01:00": date, 'T', time, optional fraction, and a
 * mandatory zone ('Z' or +hh:mm / -hh:mm). Anything else is refused. */
#ifndef ASL_TIMESTAMP_H
#define ASL_TIMESTAMP_H

#include <stdbool.h>
#include <stdint.h>

/* Parses s into nanoseconds since the Unix epoch (UTC). False when s is not
 * a valid timestamp (including impossible dates such as Feb 30). */
bool asl_timestamp_parse(const char *s, int64_t *ns_out);

/* Formats ms since the epoch as AWS prints times in the context object:
 * "2024-01-31T12:00:00.123Z". buf must hold 32 bytes. */
void asl_timestamp_format_ms(int64_t ms, char buf[32]);

#endif
