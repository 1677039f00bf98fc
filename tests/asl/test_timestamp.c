/* tests/asl/test_timestamp.c - the RFC 3339 grammar AWS accepts, and the
 * context-object time format.
 *
 * Accept/refuse cases come from AWS's recorded answers where there are any
 * (conformance: "2016-12-05 21:29:29Z" and "2016-12-05T21:29:29" refused,
 * 6 and 9 fraction digits accepted, "2016-12-05T25:29:29Z" and
 * "05-12-2016T21:29:29Z" refused) and from Java's ISO_OFFSET_DATE_TIME,
 * which AWS names in its error messages, elsewhere. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "coordinator/asl/timestamp.h"

static const char *const accepted[] = {
    "2016-03-14T01:59:00Z",
    "2016-03-14T01:59:00.123Z",
    "2016-03-14T01:59:00+01:00",
    "2016-03-14T01:59:00-05:30",
    "2012-10-09T19:00:55Z",
    "2026-11-25T00:19:09.000000Z",          /* 6 digits: AWS accepted */
    "2016-03-05T21:29:29.243167252Z",       /* 9 digits: AWS accepted */
    "2016-03-14t01:59:00z",                 /* RFC 3339 and Java: case-insensitive */
    "2016-02-29T00:00:00Z",                 /* leap year */
    "2000-02-29T00:00:00Z",                 /* 400-year leap */
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "2016-03-14T01:59:00+18:00",
    "2016-03-14T01:59:00-18:00",
    "2016-03-14T01:59:00-00:00",
    "1969-12-31T23:59:59.5Z",
};

static const char *const refused[] = {
    "",
    "2016-12-05 21:29:29Z",   /* AWS: no 'T' */
    "2016-12-05T21:29:29",    /* AWS: no zone */
    "2026-11-25T00:19:09.000000", /* AWS: no zone, with fraction */
    "2016-12-05T25:29:29Z",   /* AWS: hour 25 */
    "05-12-2016T21:29:29Z",   /* AWS: not ISO */
    "2016-12-05T24:00:00Z",
    "2016-12-05T23:60:00Z",
    "2016-12-31T23:59:60Z",   /* leap second: Java refuses */
    "2016-02-30T00:00:00Z",
    "2015-02-29T00:00:00Z",
    "1900-02-29T00:00:00Z",
    "2016-04-31T00:00:00Z",
    "2016-00-10T00:00:00Z",
    "2016-13-10T00:00:00Z",
    "2016-01-00T00:00:00Z",
    "2016-03-14T01:59Z",      /* RFC 3339 needs seconds */
    "2016-03-14T01:59:00.Z",
    "2016-03-14T01:59:00.1234567890Z", /* 10 digits: Java refuses */
    "2016-03-14T01:59:00+01",
    "2016-03-14T01:59:00+0100",
    "2016-03-14T01:59:00+01:00:00",
    "2016-03-14T01:59:00+18:01",
    "2016-03-14T01:59:00+19:00",
    "2016-03-14T01:59:00+01:60",
    "2016-03-14T01:59:00ZZ",
    " 2016-03-14T01:59:00Z",
    "2016-03-14T01:59:00Z ",
    "+2016-03-14T01:59:00Z",
    "-2016-03-14T01:59:00Z",
    "12016-03-14T01:59:00Z",
    "2016-3-14T01:59:00Z",
    "2016-03-14T1:59:00Z",
    "2016/03/14T01:59:00Z",
    "2016-03-14X01:59:00Z",
    "2016-03-14T01:59:00UTC",
    "2016-03-14",
    "T",
    "2016-03-14T01:59:00,5Z",
    "\xd9\xa2" "016-03-14T01:59:00Z", /* Arabic-Indic digit two */
};

Test(timestamp, accepts_rfc3339_forms_aws_accepts)
{
    for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
        int64_t ns = 0;
        cr_expect(asl_timestamp_parse(accepted[i], &ns), "should accept \"%s\"", accepted[i]);
    }
}

Test(timestamp, refuses_forms_aws_refuses)
{
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        int64_t ns = 42;
        cr_expect(!asl_timestamp_parse(refused[i], &ns), "should refuse \"%s\"", refused[i]);
    }
}

Test(timestamp, refuses_null)
{
    int64_t ns;
    int32_t nsec;
    cr_expect(!asl_timestamp_parse(NULL, &ns));
    cr_expect(!asl_timestamp_parse_parts(NULL, 0, &ns, &nsec));
}

static int64_t ns_of(const char *s)
{
    int64_t ns = 0;
    cr_assert(asl_timestamp_parse(s, &ns), "should accept \"%s\"", s);
    return ns;
}

Test(timestamp, converts_to_epoch_nanoseconds)
{
    cr_expect_eq(ns_of("1970-01-01T00:00:00Z"), 0);
    cr_expect_eq(ns_of("2012-10-09T19:00:55Z"), 1349809255LL * 1000000000);
    cr_expect_eq(ns_of("2016-03-14T01:59:00.123Z"), 1457920740LL * 1000000000 + 123000000);
    cr_expect_eq(ns_of("2016-03-05T21:29:29.243167252Z"), 1457213369LL * 1000000000 + 243167252);
    cr_expect_eq(ns_of("2000-03-01T00:00:00Z"), 951868800LL * 1000000000);
    cr_expect_eq(ns_of("1969-12-31T23:59:59.5Z"), -500000000);
    cr_expect_eq(ns_of("1900-01-01T00:00:00Z"), -2208988800LL * 1000000000);
}

Test(timestamp, applies_offsets)
{
    cr_expect_eq(ns_of("2012-10-09T20:00:55+01:00"), ns_of("2012-10-09T19:00:55Z"));
    cr_expect_eq(ns_of("2012-10-09T13:30:55-05:30"), ns_of("2012-10-09T19:00:55Z"));
    cr_expect_eq(ns_of("2012-10-10T00:00:00+18:00"), ns_of("2012-10-09T06:00:00Z"));
    cr_expect_eq(ns_of("2012-10-09T19:00:55-00:00"), ns_of("2012-10-09T19:00:55z"));
    /* An offset may cross a day, month and year boundary. */
    cr_expect_eq(ns_of("2017-01-01T00:30:00+01:00"), ns_of("2016-12-31T23:30:00Z"));
}

Test(timestamp, pads_short_fractions)
{
    cr_expect_eq(ns_of("1970-01-01T00:00:00.1Z"), 100000000);
    cr_expect_eq(ns_of("1970-01-01T00:00:00.000001Z"), 1000);
    cr_expect_eq(ns_of("1970-01-01T00:00:00.000000001Z"), 1);
}

Test(timestamp, saturates_instants_beyond_int64_nanoseconds)
{
    cr_expect_eq(ns_of("9999-12-31T23:59:59Z"), INT64_MAX);
    cr_expect_eq(ns_of("0000-01-01T00:00:00Z"), INT64_MIN);
    /* The last representable nanosecond and the first one past it. */
    cr_expect_eq(ns_of("2262-04-11T23:47:16.854775807Z"), INT64_MAX);
    cr_expect_eq(ns_of("2262-04-11T23:47:16.854775806Z"), INT64_MAX - 1);
    cr_expect_eq(ns_of("1677-09-21T00:12:43.145224192Z"), INT64_MIN);
    cr_expect_eq(ns_of("1677-09-21T00:12:43.145224193Z"), INT64_MIN + 1);
    cr_expect_eq(ns_of("1677-09-21T00:12:43.145224191Z"), INT64_MIN);
}

Test(timestamp, parts_order_every_year)
{
    int64_t s1, s2;
    int32_t n1, n2;
    const char *a = "3000-01-01T00:00:00Z", *b = "3000-01-01T00:00:01Z";
    cr_assert(asl_timestamp_parse_parts(a, strlen(a), &s1, &n1));
    cr_assert(asl_timestamp_parse_parts(b, strlen(b), &s2, &n2));
    cr_expect_eq(s2 - s1, 1);
    cr_expect_eq(s1, 32503680000LL);
    const char *z = "0000-03-01T00:00:00Z";
    cr_assert(asl_timestamp_parse_parts(z, strlen(z), &s1, &n1));
    cr_expect_eq(s1, -62162035200LL);
    cr_expect_eq(n1, 0);
}

Test(timestamp, parts_honours_length_and_embedded_nul)
{
    int64_t s;
    int32_t n;
    const char text[] = "2016-03-14T01:59:00Zjunk";
    cr_expect(asl_timestamp_parse_parts(text, 20, &s, &n));
    cr_expect(!asl_timestamp_parse_parts(text, 21, &s, &n));
    cr_expect(!asl_timestamp_parse_parts(text, 19, &s, &n));
    const char nul[] = "2016-03-14T01:59:00Z\0";
    cr_expect(!asl_timestamp_parse_parts(nul, sizeof nul - 1, &s, &n));
}

Test(timestamp, formats_milliseconds_as_aws_context_times)
{
    char buf[32];
    asl_timestamp_format_ms(0, buf);
    cr_expect_str_eq(buf, "1970-01-01T00:00:00.000Z");
    asl_timestamp_format_ms(1706702400123LL, buf);
    cr_expect_str_eq(buf, "2024-01-31T12:00:00.123Z");
    asl_timestamp_format_ms(-1, buf);
    cr_expect_str_eq(buf, "1969-12-31T23:59:59.999Z");
    asl_timestamp_format_ms(951782400000LL, buf);
    cr_expect_str_eq(buf, "2000-02-29T00:00:00.000Z");
    asl_timestamp_format_ms(253402300800000LL, buf);
    cr_expect_str_eq(buf, "+10000-01-01T00:00:00.000Z");
}

Test(timestamp, formats_extremes_within_buffer)
{
    char buf[32];
    asl_timestamp_format_ms(INT64_MAX, buf);
    cr_expect(strlen(buf) < 32);
    cr_expect_str_eq(buf, "+292278994-08-17T07:12:55.807Z");
    asl_timestamp_format_ms(INT64_MIN, buf);
    cr_expect(strlen(buf) < 32);
    cr_expect_str_eq(buf, "-292275055-05-16T16:47:04.192Z");
}

Test(timestamp, format_round_trips_through_parse)
{
    static const int64_t ms[] = {0, 1, 999, 1000, 86399999, 1457920740123LL, -123456789LL,
                                 4102444800000LL, -2208988800000LL};
    for (size_t i = 0; i < sizeof ms / sizeof *ms; i++) {
        char buf[32];
        asl_timestamp_format_ms(ms[i], buf);
        int64_t ns = 0;
        cr_assert(asl_timestamp_parse(buf, &ns), "formatted \"%s\" must parse", buf);
        cr_expect_eq(ns, ms[i] * 1000000, "round trip of %lld via %s", (long long)ms[i], buf);
    }
}
