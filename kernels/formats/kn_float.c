/* kernels/formats/kn_float.c - decimal text to float32 and back.
 *
 * Parsing: digits are gathered into a 64-bit integer m with a decimal
 * exponent e. When m <= 2^53 and |e| <= 22, m and 10^|e| are exact
 * doubles, so m * 10^e (or m / 10^-e) is the correctly rounded double of
 * the true value (Clinger's fast path). Rounding that double to float can
 * differ from rounding the true value only when the double lies exactly
 * on a midpoint between two floats (rounding is monotonic, and midpoints
 * are doubles): that case, and everything outside the fast path, goes to
 * strtof, so the result is always strtof's. Must never read past end.
 *
 * That parser (parse_general, byte at a time, any length) is the
 * specification. kn__float_scan (kn_float.h, inline for the CSV loop)
 * runs first and declines anything unusual: more than 19 digits, no
 * digits, nan, inf, a value it cannot round with certainty.
 *
 * Formatting: %.{6..9}g's digits, the first that read back, as printf
 * would write them, but computed exactly in 128-bit integers (v = M * 2^E,
 * times or over a power of ten, rounded half to even as glibc's printf
 * rounds) for 1e-20 <= |v| < 1e20; snprintf for the rest. The read-back
 * check is kn_float_parse (strtof's result). */
#include "kn_float.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static const uint64_t pow10_u64[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};

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

/* The general parser: byte at a time, any length; exactly strtof's result. */
static const char *parse_general(const char *p, const char *end, float *out)
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

const char *kn_float_parse(const char *p, const char *end, float *out)
{
    const char *q = kn__float_scan(p, end, out);
    return q ? q : parse_general(p, end, out);
}

/* ---- formatting ------------------------------------------------------------ */

/* The shortest text as the snprintf loop writes it: the specification of
 * the fast path below, and what runs outside its range. */
static size_t format_printf(char *buf, float v, bool integral)
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

typedef unsigned __int128 u128;

static u128 pow10_wide(int s) /* 0 <= s <= 38 */
{
    return s <= 19 ? (u128)pow10_u64[s] : (u128)pow10_u64[19] * pow10_u64[s - 19];
}

/* M × 2^E (M < 2^24) to p significant digits, rounded half to even as
 * printf rounds: *q in [10^(p-1), 10^p) and *x the decimal exponent of
 * its first digit. x0 is a guess at x, off by at most one or two. The
 * caller keeps M × 2^E within [1e-21, 1e21], so that nothing passes 128
 * bits. */
static void round_to_digits(uint32_t M, int E, int p, int x0, uint64_t *q, int *x)
{
    for (;;) {
        int s = p - 1 - x0;
        u128 num = (u128)M << (E > 0 ? E : 0), qq, rem, den;
        if (s >= 0) {
            num *= pow10_wide(s);
            int sh = E < 0 ? -E : 0; /* the denominator is 2^sh */
            qq = num >> sh;
            rem = num & (((u128)1 << sh) - 1);
            den = (u128)1 << sh;
        } else {
            den = (u128)pow10_u64[-s] << (E < 0 ? -E : 0);
            qq = num / den;
            rem = num % den;
        }
        if (qq >= pow10_u64[p]) {
            x0++;
            continue;
        }
        if (qq < pow10_u64[p - 1]) {
            x0--;
            continue;
        }
        if (rem * 2 > den || (rem * 2 == den && (qq & 1)))
            qq++;
        if (qq == pow10_u64[p]) { /* 9.9999996 -> "10" */
            qq = pow10_u64[p - 1];
            x0++;
        }
        *q = (uint64_t)qq;
        *x = x0;
        return;
    }
}

/* %.{p}g of a nonzero value whose digits are q (p of them) and exponent x,
 * Python's ".0" added to a bare integer. */
static size_t put_g(char *buf, bool neg, uint64_t q, int p, int x)
{
    char d[20];
    for (int i = p - 1; i >= 0; i--, q /= 10)
        d[i] = (char)('0' + q % 10);
    int nd = p;
    while (nd > 1 && d[nd - 1] == '0')
        nd--;
    char *o = buf;
    if (neg)
        *o++ = '-';
    if (x < -4 || x >= p) {
        *o++ = d[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, d + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        int ax = x < 0 ? -x : x;
        if (ax >= 100)
            *o++ = (char)('0' + ax / 100);
        *o++ = (char)('0' + ax / 10 % 10);
        *o++ = (char)('0' + ax % 10);
    } else if (x >= 0) {
        if (nd < x + 1)
            nd = x + 1; /* the integer part keeps its zeros */
        memcpy(o, d, (size_t)x + 1);
        o += x + 1;
        *o++ = '.';
        if (nd > x + 1) {
            memcpy(o, d + x + 1, (size_t)(nd - x - 1));
            o += nd - x - 1;
        } else {
            *o++ = '0'; /* "3" -> "3.0" */
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *o++ = '0';
        memcpy(o, d, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

size_t kn_float_format(char *buf, float v, bool integral)
{
    float a = fabsf(v);
    if (integral && a < 1e15f && (float)(int64_t)v == v) {
        int64_t i = (int64_t)v;
        char *o = buf;
        if (signbit(v))
            *o++ = '-'; /* "%.0f" writes -0 as "-0" */
        uint64_t u = (uint64_t)(i < 0 ? -i : i);
        char t[20];
        int n = 0;
        do {
            t[n++] = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        while (n)
            *o++ = t[--n];
        *o = '\0';
        return (size_t)(o - buf);
    }
    if (a == 0.0f) {
        memcpy(buf, signbit(v) ? "-0.0" : "0.0", signbit(v) ? 5 : 4);
        return signbit(v) ? 4 : 3;
    }
    if (!(a >= 1e-20f && a < 1e20f)) /* NaN, infinities, the far ranges */
        return format_printf(buf, v, integral);
    uint32_t bits;
    memcpy(&bits, &a, sizeof bits);
    uint32_t M = (bits & 0x7fffff) | 0x800000; /* normal: 1e-20 is far above 2^-126 */
    int E = (int)(bits >> 23) - 150;           /* a = M × 2^E */
    int k = E + 23, x0 = k >= 0 ? (k * 78913) >> 18 : -((-k * 78913 + 262143) >> 18);
    for (int p = 6;; p++) {
        uint64_t q;
        int x;
        round_to_digits(M, E, p, x0, &q, &x);
        size_t n = put_g(buf, signbit(v), q, p, x);
        float back;
        if (p == 9 || (kn_float_parse(buf, buf + n, &back) == buf + n && back == v))
            return n;
    }
}
