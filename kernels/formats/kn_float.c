/* kernels/formats/kn_float.c - decimal text to float32 and back.
 *
 * Parsing: digits are gathered into a 64-bit integer m with a decimal
 * exponent e. When m <= 2^53 and |e| <= 22, m and 10^|e| are exact
 * doubles, so m * 10^e (or m / 10^-e) is the correctly rounded double of
 * the true value (Clinger's fast path). Rounding that double to float can
 * differ from rounding the true value only when the double lies exactly
 * on a midpoint between two floats (rounding is monotonic, and midpoints
 * are doubles): that case, and everything outside the fast path, goes to
 * strtof, so the result is always strtof's. Must never read past end. */
#include "kn_float.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive prefix match of word (lower case) at [p, end). */
static bool has_word(const char *p, const char *end, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)p[i]) != word[i])
            return false;
    return true;
}

/* strtof on a NUL-terminated copy of [s, e), a span already known to be a
 * complete number. */
static float slow_parse(const char *s, const char *e)
{
    char local[128];
    size_t n = (size_t)(e - s);
    char *copy = n < sizeof local ? local : malloc(n + 1);
    if (!copy)
        return NAN; /* out of memory on a >127-character number: rare enough */
    memcpy(copy, s, n);
    copy[n] = '\0';
    float v = strtof(copy, NULL);
    if (copy != local)
        free(copy);
    return v;
}

static bool is_float_midpoint(double d)
{
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    /* A double's 52 fraction bits, a float's 23: the 29 below are the ones
     * rounding drops; exactly 1000...0 is a tie. */
    return (bits & ((UINT64_C(1) << 29) - 1)) == (UINT64_C(1) << 28);
}

const char *kn_float_parse(const char *p, const char *end, float *out)
{
    const char *s = p;
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+'))
        neg = *p++ == '-';

    uint64_t m = 0;
    int nd = 0, e10 = 0;
    bool any = false, truncated = false;
    for (; p < end && (unsigned)(*p - '0') < 10; p++) {
        unsigned d = (unsigned)(*p - '0');
        any = true;
        if (nd < 19) {
            m = m * 10 + d;
            nd += m != 0; /* leading zeros are not significant */
        } else {
            e10++;
            truncated |= d != 0;
        }
    }
    if (p < end && *p == '.') {
        const char *dot = p++;
        for (; p < end && (unsigned)(*p - '0') < 10; p++) {
            unsigned d = (unsigned)(*p - '0');
            any = true;
            if (nd < 19) {
                m = m * 10 + d;
                nd += m != 0;
                e10--;
            } else {
                truncated |= d != 0;
            }
        }
        if (!any)
            p = dot; /* "." alone is no number */
    }
    if (!any) {
        if (has_word(p, end, "infinity") || has_word(p, end, "inf")) {
            p += has_word(p, end, "infinity") ? 8 : 3;
            *out = neg ? -INFINITY : INFINITY;
            return p;
        }
        if (has_word(p, end, "nan")) {
            *out = neg ? -NAN : NAN;
            return p + 3;
        }
        return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        bool eneg = false;
        if (q < end && (*q == '-' || *q == '+'))
            eneg = *q++ == '-';
        if (q < end && (unsigned)(*q - '0') < 10) {
            int x = 0;
            for (; q < end && (unsigned)(*q - '0') < 10; q++)
                if (x < 100000)
                    x = x * 10 + (*q - '0');
            e10 += eneg ? -x : x;
            p = q;
        } /* else "1e" is the number 1 followed by "e", as strtof reads it */
    }
    if (m == 0 && !truncated) {
        *out = neg ? -0.0f : 0.0f;
        return p;
    }
    if (!truncated && m <= (UINT64_C(1) << 53) && e10 >= -22 && e10 <= 22) {
        double d = (double)m;
        d = e10 < 0 ? d / pow10_exact[-e10] : d * pow10_exact[e10];
        if (!is_float_midpoint(d)) {
            float f = (float)d;
            *out = neg ? -f : f;
            return p;
        }
    }
    *out = slow_parse(s, p);
    return p;
}

size_t kn_float_format(char *buf, float v, bool integral)
{
    if (isnan(v))
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, "nan");
    if (isinf(v))
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, v < 0 ? "-inf" : "inf");
    if (integral && v == truncf(v) && fabsf(v) < 1e15f)
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, "%.0f", (double)v);
    int n = 0;
    /* %g drops trailing zeros, so the first precision that reads back is
     * the shortest text; 9 significant digits always do for a float. */
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, KN_FLOAT_TEXT, "%.*g", prec, (double)v);
        if (prec == 9 || strtof(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en")) { /* "3" -> "3.0", as Python writes a float */
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return (size_t)n;
}
