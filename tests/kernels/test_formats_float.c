/* tests/kernels/test_formats_float.c - the CSV number parser gives
 * exactly strtof's float on many values, and the writer's shortest text
 * reads back as the same float. */
#include "formats_helpers.h"

#include <math.h>
#include <stdint.h>

#include "kernels/formats/kn_float.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;

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

/* Parses s both ways; the whole string must be consumed, bit for bit the
 * same float (any NaN matches any NaN). */
static void same_as_strtof(const char *s)
{
    float ours = 0;
    const char *end = kn_float_parse(s, s + strlen(s), &ours);
    char *send;
    float theirs = strtof(s, &send);
    cr_assert_not_null(end, "no number in '%s'", s);
    cr_assert_eq(end, send, "'%s': we stop at %td, strtof at %td", s, end - s, send - s);
    if (isnan(theirs))
        cr_assert(isnan(ours), "'%s'", s);
    else
        cr_assert_eq(bits_of(ours), bits_of(theirs), "'%s': %a vs strtof's %a", s, (double)ours,
                     (double)theirs);
}

Test(float_parse, matches_strtof_on_special_cases)
{
    const char *cases[] = {
        "0",
        "-0",
        "+0",
        "0.0",
        "1",
        "-1",
        ".5",
        "5.",
        "-.5e1",
        "1e",
        "1e+",
        "1E5",
        "1e-5",
        "123456789",
        "0.1",
        "0.2",
        "0.3",
        "3.14159265358979323846",
        "1e38",
        "3.4028235e38",
        "3.4028236e38",
        "1e39",
        "1e400",
        "-1e400",
        "1e-38",
        "1.17549435e-38",
        "1e-40",
        "1e-45",
        "1.4e-45",
        "7e-46",
        "1e-50",
        "1e-400",
        "16777217",
        "16777216.5",
        "9007199254740993",
        "9007199254740992.5",
        "0.000000000000000000000000000001",
        "12345678901234567890123",
        "1.00000005960464477539062500001",
        "1.000000059604644775390625",
        "1.00000017881393432617187499",
        "33554431",
        "33554433",
        "0.30000001192092896",
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-Inf",
        "infinity",
        "-INFINITY",
        "00000000000000000001",
        "0.00000000000000000000000000000000000000000000000000001e60",
        "2.5e-1",
        "1e22",
        "1e23",
        "4.5e-23",
        "8388608.5",
        "8388609.5",
        "1e0000000000000000000000001",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        same_as_strtof(cases[i]);
}

Test(float_parse, matches_strtof_on_the_text_of_random_floats)
{
    char buf[64];
    const char *fmts[] = {"%.9g",  "%.8g",  "%.7g", "%.6g", "%.3g",
                          "%.12e", "%.17g", "%.1f", "%.10f"};
    for (int i = 0; i < 400000; i++) {
        uint32_t b = (uint32_t)next_rand();
        float f;
        memcpy(&f, &b, sizeof f);
        if (!isfinite(f))
            continue;
        snprintf(buf, sizeof buf, fmts[i % 9], (double)f);
        same_as_strtof(buf);
    }
}

Test(float_parse, matches_strtof_on_random_decimal_strings)
{
    char buf[96];
    for (int i = 0; i < 400000; i++) {
        uint64_t r = next_rand();
        int ndig = 1 + (int)(r % 24), dot = (int)((r >> 8) % (ndig + 1)), at = 0;
        if (r >> 20 & 1)
            buf[at++] = '-';
        for (int d = 0; d < ndig; d++) {
            if (d == dot)
                buf[at++] = '.';
            buf[at++] = (char)('0' + next_rand() % 10);
        }
        if (r >> 21 & 1)
            at += sprintf(buf + at, "e%d", (int)((r >> 24) % 90) - 50);
        buf[at] = '\0';
        same_as_strtof(buf);
    }
}

Test(float_parse, matches_strtof_near_float_midpoints)
{
    /* Decimal expansions of exact midpoints between neighbouring floats,
     * and a hair either side: where a double rounding would go wrong. */
    char buf[64];
    for (int i = 0; i < 200000; i++) {
        uint32_t b = (uint32_t)next_rand() & 0x7effffffu;
        float lo, hi;
        memcpy(&lo, &b, sizeof lo);
        hi = nextafterf(lo, INFINITY);
        if (!isfinite(hi) || lo < 1e-30f)
            continue;
        double mid = ((double)lo + (double)hi) / 2;
        snprintf(buf, sizeof buf, "%.17g", mid);
        same_as_strtof(buf);
        snprintf(buf, sizeof buf, "%.17g", nextafter(mid, 0));
        same_as_strtof(buf);
        snprintf(buf, sizeof buf, "%.17g", nextafter(mid, INFINITY));
        same_as_strtof(buf);
        snprintf(buf, sizeof buf, "%.16g", mid);
        same_as_strtof(buf);
    }
}

Test(float_parse, finds_no_number_where_there_is_none)
{
    const char *cases[] = {"",   "-",  "+",  ".",   "-.", "e5", "abc",
                           "x1", " 1", ",1", "-e1", "in", "na"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f;
        const char *s = cases[i];
        cr_assert_null(kn_float_parse(s, s + strlen(s), &f), "'%s'", s);
    }
}

Test(float_parse, never_reads_past_the_end)
{
    const char *s = "12345e7";
    float f;
    cr_assert_eq(kn_float_parse(s, s + 3, &f), s + 3);
    cr_assert_float_eq(f, 123.0f, 0);
    cr_assert_eq(kn_float_parse(s, s + 6, &f), s + 5); /* "12345e": the e is not part of it */
    cr_assert_eq(kn_float_parse(s, s + 5, &f), s + 5);
    cr_assert_float_eq(f, 12345.0f, 0);
}

Test(float_format, writes_python_style_shortest_text)
{
    char buf[KN_FLOAT_TEXT];
    kn_float_format(buf, 0.4f, false);
    cr_assert_str_eq(buf, "0.4");
    kn_float_format(buf, 3.0f, false);
    cr_assert_str_eq(buf, "3.0");
    kn_float_format(buf, 3.0f, true);
    cr_assert_str_eq(buf, "3");
    kn_float_format(buf, 23.40593910217285f, false);
    cr_assert_str_eq(buf, "23.40594"); /* shorter than Python's double text, same float */
    kn_float_format(buf, 1e-7f, false);
    cr_assert_str_eq(buf, "1e-07");
    kn_float_format(buf, NAN, false);
    cr_assert_str_eq(buf, "nan");
    kn_float_format(buf, -INFINITY, false);
    cr_assert_str_eq(buf, "-inf");
}

Test(float_format, text_reads_back_as_the_same_float)
{
    char buf[KN_FLOAT_TEXT];
    for (int i = 0; i < 300000; i++) {
        uint32_t b = (uint32_t)next_rand();
        float f, back;
        memcpy(&f, &b, sizeof f);
        if (!isfinite(f))
            continue;
        size_t n = kn_float_format(buf, f, false);
        cr_assert_eq(n, strlen(buf));
        cr_assert_eq(kn_float_parse(buf, buf + n, &back), buf + n, "%s", buf);
        cr_assert_eq(bits_of(back), bits_of(f), "%s", buf);
    }
}
