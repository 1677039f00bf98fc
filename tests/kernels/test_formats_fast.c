/* tests/kernels/test_formats_fast.c - the fast paths of kn_float.c give
 * what their specifications give: the eight-digits-at-a-time parser
 * strtof's float and stopping place on CSV-shaped text at every distance
 * from the end, and the integer formatter the same bytes as the snprintf
 * loop (%.{6..9}g, the first that reads back) on random, tie and
 * boundary floats. */
#include "formats_helpers.h"

#include <math.h>
#include <stdint.h>

#include "kernels/formats/kn_float.h"

static uint64_t rng = 0x2545f4914f6cdd1du;

static uint64_t next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

/* The specification: what kn_float_format wrote with snprintf. */
static size_t format_by_printf(char *buf, float v, bool integral)
{
    if (isnan(v))
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, "nan");
    if (isinf(v))
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, v < 0 ? "-inf" : "inf");
    if (integral && v == truncf(v) && fabsf(v) < 1e15f)
        return (size_t)snprintf(buf, KN_FLOAT_TEXT, "%.0f", (double)v);
    int n = 0;
    for (int prec = 6; prec <= 9; prec++) {
        n = snprintf(buf, KN_FLOAT_TEXT, "%.*g", prec, (double)v);
        if (prec == 9 || strtof(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en")) {
        buf[n++] = '.';
        buf[n++] = '0';
        buf[n] = '\0';
    }
    return (size_t)n;
}

static void same_text(float v, bool integral)
{
    char ours[KN_FLOAT_TEXT], theirs[KN_FLOAT_TEXT];
    size_t n = kn_float_format(ours, v, integral);
    size_t m = format_by_printf(theirs, v, integral);
    cr_assert_str_eq(ours, theirs, "%a (integral %d)", (double)v, integral);
    cr_assert_eq(n, m, "%s", ours);
}

Test(float_format_fast, matches_printf_on_random_floats)
{
    for (int i = 0; i < 400000; i++) {
        uint32_t b = (uint32_t)next_rand();
        float f;
        memcpy(&f, &b, sizeof f);
        same_text(f, (i & 7) == 0);
    }
}

Test(float_format_fast, matches_printf_on_scores_and_labels)
{
    /* What a classifier writes: scores in [0, 1], labels 0 and 1. */
    for (int i = 0; i < 300000; i++) {
        float f = (float)(next_rand() >> 40) / (float)(1 << 24);
        same_text(f, false);
        same_text(-f, false);
    }
    same_text(0.0f, true);
    same_text(1.0f, true);
    same_text(-0.0f, true);
    same_text(0.0f, false);
    same_text(-0.0f, false);
    same_text(1.0f, false);
}

Test(float_format_fast, matches_printf_on_ties_and_edges)
{
    /* Exact halves at 6..9 digits round to even; 9.99... rounds to 10;
     * the ends of the integer range and of the fast path's range. */
    const float cases[] = {
        1234567.5f,  1234568.5f,   12345675.0f, 123456.5f, 0.5f,          2.5f,
        9.9999995f,  9.999999f,    99999.95f,   999999.5f, 1e-20f,        1e20f,
        9.99999e19f, 1.00001e-20f, 1e-21f,      1e21f,     3.4028235e38f, 1.17549435e-38f,
        1e-45f,      1e15f,        1e-5f,       1e-4f,     0.0001234f,    123456.0f,
        1234567.0f,  16777216.0f,  16777217.0f, 1e6f,      1e9f,          0.1f};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int s = 0; s < 2; s++)
            for (int integral = 0; integral < 2; integral++)
                same_text(s ? -cases[i] : cases[i], integral);
    /* Every float near a few boundaries. */
    const float around[] = {1e-4f, 1e-5f, 1.0f,  10.0f,  1e5f, 1e6f,
                            1e8f,  1e9f,  1e19f, 1e-20f, 1e20f};
    for (size_t i = 0; i < sizeof around / sizeof around[0]; i++) {
        uint32_t b = bits_of(around[i]);
        for (uint32_t d = 0; d < 2000; d++) {
            uint32_t x = b - 1000 + d;
            float f;
            memcpy(&f, &x, sizeof f);
            same_text(f, false);
            same_text(f, true);
        }
    }
}

/* Parses text[0, n) both ways: the same stopping place and float. */
static void same_as_strtof_n(const char *text, size_t n)
{
    char copy[64];
    memcpy(copy, text, n);
    copy[n] = '\0';
    /* A heap block of exactly n bytes: AddressSanitizer sees a read past
     * its end. */
    char *exact = malloc(n ? n : 1);
    memcpy(exact, text, n);
    float ours = 0;
    const char *end = kn_float_parse(exact, exact + n, &ours);
    end = end ? text + (end - exact) : NULL;
    free(exact);
    char *send;
    float theirs = strtof(copy, &send);
    if (send == copy || copy[0] == ' ' || copy[0] == '\n') { /* strtof skips blanks; we do not */
        cr_assert_null(end, "'%s'", copy);
        return;
    }
    cr_assert_not_null(end, "'%s'", copy);
    cr_assert_eq(end - text, send - copy, "'%s': we stop at %td, strtof at %td", copy, end - text,
                 send - copy);
    cr_assert_eq(bits_of(ours), bits_of(theirs), "'%s': %a vs %a", copy, (double)ours,
                 (double)theirs);
}

Test(float_parse_fast, matches_strtof_on_csv_fields_at_every_end)
{
    /* Fields as CSV writes them, followed by a comma and more, cut at
     * every length: the 8-byte loads must see only what is before end. */
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        uint64_t r = next_rand();
        int ni = (int)(r % 10), nf = (int)(r >> 8) % 20;
        int len = 0;
        if (r & (1u << 20))
            buf[len++] = '-';
        for (int k = 0; k < ni; k++)
            buf[len++] = (char)('0' + next_rand() % 10);
        if (r & (1u << 21))
            buf[len++] = '.';
        for (int k = 0; k < nf; k++)
            buf[len++] = (char)('0' + next_rand() % 10);
        if ((r & (7u << 22)) == 0)
            len += snprintf(buf + len, 16, "e%d", (int)(next_rand() % 90) - 45);
        memcpy(buf + len, ",0.5,x", 6);
        size_t full = (size_t)len + 6;
        same_as_strtof_n(buf, full);
        same_as_strtof_n(buf, (size_t)len);
        same_as_strtof_n(buf, next_rand() % (full + 1));
    }
}

Test(float_parse_fast, matches_strtof_on_every_digit_run_length)
{
    /* 0 to 24 digits before and after the point, all nines (the largest
     * value for the count) and all ones, with non-digits of every kind
     * after them. */
    const char after[] = {',', ' ', '\n', '/', ':', 'e', 'x', '\x80', '\xff', '.'};
    char buf[64];
    for (int ni = 0; ni <= 24; ni++)
        for (int nf = -1; nf <= 24; nf++)
            for (int digit = 1; digit <= 9; digit += 8)
                for (size_t a = 0; a < sizeof after; a++) {
                    int len = 0;
                    for (int k = 0; k < ni; k++)
                        buf[len++] = (char)('0' + digit);
                    if (nf >= 0)
                        buf[len++] = '.';
                    for (int k = 0; k < nf; k++)
                        buf[len++] = (char)('0' + digit);
                    buf[len++] = after[a];
                    memcpy(buf + len, "12345678", 8);
                    same_as_strtof_n(buf, (size_t)len + 8);
                    same_as_strtof_n(buf, (size_t)len);
                    same_as_strtof_n(buf, (size_t)len - 1);
                }
}
