/* kernels/formats/kn_float.h - decimal text to float32 and back, fast.
 *
 * Batch transform reads gigabytes of CSV, and strtof (locale, NUL
 * termination, arbitrary precision) is most of the cost of parsing it.
 * kn_float_parse gives exactly strtof's result: the common case (at most
 * 19 significant digits, a decimal exponent within ±22) is one correctly
 * rounded double operation, and everything else goes to strtof. */
#ifndef KN_FLOAT_H
#define KN_FLOAT_H

#include <stdbool.h>
#include <stddef.h>

/* Parses the longest decimal float at [p, end) (sign, digits, '.',
 * exponent; "nan", "inf", "infinity" in any case) into *out. Returns the
 * first byte after it, or NULL when no number starts at p. Leading blanks
 * are not skipped. */
const char *kn_float_parse(const char *p, const char *end, float *out);

/* The shortest text that reads back (with strtof) as exactly v, in
 * Python's style: "0.4", "3.0", "1e-07", "nan", "inf". integral: a label
 * or index, written as an integer ("3"). buf needs KN_FLOAT_TEXT bytes;
 * returns the length written. */
#define KN_FLOAT_TEXT 32
size_t kn_float_format(char *buf, float v, bool integral);

#endif
