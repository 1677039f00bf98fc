/* kernels/formats/kn_float.h - decimal text to float32 and back, fast.
 *
 * Batch transform reads gigabytes of CSV, and strtof (locale, NUL
 * termination, arbitrary precision) is most of the cost of parsing it.
 * kn_float_parse gives exactly strtof's result: the common case (at most
 * 19 digits, a decimal exponent within ±22) is a few integer operations
 * and one double multiply (kn__float_scan below, inline so the CSV loop
 * pays no call per field), and everything else goes to the exact path
 * and strtof. kn_float_format is printf's %g digits computed in integers.
 * On one core of the 2-core bench machine (AMD EPYC, shared): CSV rows of
 * 50 "-0.123456" fields parse at ~1.0 GB/s (9 ns a field; strtof-based
 * ~0.45 GB/s); a score and its label ~70 ns written (random 24-bit scores,
 * the worst case). */
#ifndef KN_FLOAT_H
#define KN_FLOAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Parses the longest decimal float at [p, end) (sign, digits, '.',
 * exponent; "nan", "inf", "infinity" in any case) into *out. Returns the
 * first byte after it, or NULL when no number starts at p. Leading blanks
 * are not skipped. */
const char *kn_float_parse(const char *p, const char *end, float *out);

/* ---- the fast path, inline for callers that parse many numbers (CSV) ----
 *
 * kn__float_scan parses the common shapes ([sign] digits [. digits]
 * [exponent], at most 19 digits) as kn_float_parse does, or declines with
 * NULL (nothing written): then kn_float_parse decides. Where eight bytes
 * remain before end it reads eight digits at once (SWAR: one 64-bit load,
 * a mask of the non-digits, three multiplies). The value is m × 10^e, m
 * and e exact integers; for e < 0 it multiplies by 10^e's nearest double
 * instead of dividing by the exact 10^-e: the two roundings put the result
 * within 2 ulps (of the double) of the true value, so unless it is within
 * 8 ulps of a midpoint between floats, the true value rounds to the same
 * float, which is strtof's. Near a midpoint it declines. */

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
#define KN__FLOAT_SWAR 1
#else
#define KN__FLOAT_SWAR 0
#endif

/* Up to 8 digits at p: their count in *n and value in *v. Reads 8 bytes
 * only when they lie before end. */
static inline const char *kn__float_digits8(const char *p, const char *end, uint64_t *v, int *n)
{
#if KN__FLOAT_SWAR
    if (end - p >= 8) {
        uint64_t c, x;
        memcpy(&c, p, 8);
        x = c ^ UINT64_C(0x3030303030303030); /* '0'..'9' -> 0..9 */
        /* A byte's top bit set when it is not 0..9; a carry out of a bad
         * byte can only mark later ones, so the lowest mark is right. */
        uint64_t bad = ((x + UINT64_C(0x7676767676767676)) | x) & UINT64_C(0x8080808080808080);
        int k = bad ? __builtin_ctzll(bad) >> 3 : 8;
        *n = k;
        if (k == 0) {
            *v = 0;
            return p;
        }
        x <<= 8 * (8 - k);   /* the k digits at the top, zeros before them */
        x = (x * 2561) >> 8; /* pairs, then quads, then all eight */
        x = ((x & UINT64_C(0x00FF00FF00FF00FF)) * 6553601) >> 16;
        *v = ((x & UINT64_C(0x0000FFFF0000FFFF)) * UINT64_C(42949672960001)) >> 32;
        return p + k;
    }
#endif
    uint64_t m = 0;
    int k = 0;
    for (; p < end && k < 8 && (unsigned)(*p - '0') < 10; p++, k++)
        m = m * 10 + (unsigned)(*p - '0');
    *v = m;
    *n = k;
    return p;
}

static inline const char *kn__float_scan(const char *p, const char *end, float *out)
{
    static const uint64_t p10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};
    static const double pos[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    static const double neg10[23] = {1e0,   1e-1,  1e-2,  1e-3,  1e-4,  1e-5,  1e-6,  1e-7,
                                     1e-8,  1e-9,  1e-10, 1e-11, 1e-12, 1e-13, 1e-14, 1e-15,
                                     1e-16, 1e-17, 1e-18, 1e-19, 1e-20, 1e-21, 1e-22};
    const char *q = p;
    bool neg = false;
    if (q < end && (*q == '-' || *q == '+'))
        neg = *q++ == '-';
    uint64_t m, part;
    int nint, nfrac = 0, n;
    if (end - q >= 2 && q[1] == '.' && (unsigned)(q[0] - '0') < 10) { /* "0.123": common */
        m = (unsigned)(q[0] - '0');
        nint = 1;
        q++;
    } else {
        q = kn__float_digits8(q, end, &m, &nint);
        if (nint == 8)
            return NULL; /* a long integer part */
    }
    if (q < end && *q == '.') {
        const char *dot = q++;
        q = kn__float_digits8(q, end, &part, &n);
        m = m * p10[n] + part;
        nfrac = n;
        while (n == 8 && nint + nfrac <= 19) {
            q = kn__float_digits8(q, end, &part, &n);
            m = m * p10[n] + part; /* wraps past 19 digits: declined below */
            nfrac += n;
        }
        if (nint + nfrac == 0)
            q = dot;
    }
    if (nint + nfrac == 0 || nint + nfrac > 19)
        return NULL; /* nan, inf, no number, many digits */
    int e10 = -nfrac;
    if (q < end && (*q == 'e' || *q == 'E')) {
        const char *t = q + 1;
        bool eneg = false;
        if (t < end && (*t == '-' || *t == '+'))
            eneg = *t++ == '-';
        if (t < end && (unsigned)(*t - '0') < 10) {
            int x = 0;
            for (; t < end && (unsigned)(*t - '0') < 10; t++)
                if (x < 100000)
                    x = x * 10 + (*t - '0');
            e10 += eneg ? -x : x;
            q = t;
        } /* else "1e" is the number 1 followed by "e", as strtof reads it */
    }
    double d;
    if (m == 0) {
        d = 0;
    } else if (m > (UINT64_C(1) << 53) || e10 < -22 || e10 > 22) {
        return NULL;
    } else {
        d = e10 < 0 ? (double)m * neg10[-e10] : (double)m * pos[e10];
        uint64_t bits;
        memcpy(&bits, &d, sizeof bits);
        /* The 29 bits rounding to float drops; 1000...0 is a midpoint. For
         * e10 >= 0, d is exact-rounded and only a midpoint itself is in
         * doubt; this declines a few more, harmlessly. */
        if ((bits & ((UINT64_C(1) << 29) - 1)) - (UINT64_C(1) << 28) + 8 <= 16)
            return NULL;
    }
    float f = (float)d;
    *out = neg ? -f : f;
    return q;
}

/* The shortest text that reads back (with strtof) as exactly v, in
 * Python's style: "0.4", "3.0", "1e-07", "nan", "inf". integral: a label
 * or index, written as an integer ("3"). buf needs KN_FLOAT_TEXT bytes;
 * returns the length written. */
#define KN_FLOAT_TEXT 32
size_t kn_float_format(char *buf, float v, bool integral);

#endif
