/* asl/timestamp.c - RFC 3339 timestamps as Step Functions accepts them.
 *
 * AWS parses TimestampPath values and Timestamp* operands with Java's
 * ISO_OFFSET_DATE_TIME ("The ... parameter does not reference a valid
 * ISO-8601 extended offset date-time format string") and validates literal
 * timestamps in definitions as RFC 3339. We accept what both accept:
 *
 *   YYYY-MM-DD ('T'|'t') hh:mm:ss [ '.' 1-9 digits ] ( 'Z'|'z' | ('+'|'-') hh:mm )
 *
 * Both grammars allow lower-case 't' and 'z'. Refused, as Java refuses them:
 * second 60 (no leap seconds), hour 24, offsets beyond +-18:00, more than 9
 * fraction digits, impossible dates (Feb 29 outside leap years). Refused as
 * RFC 3339 refuses them: a missing 'T' or zone, missing seconds, years
 * outside 0000-9999, signed years, any surrounding space.
 *
 * Pure arithmetic on the proleptic Gregorian calendar: no libc time
 * functions (they depend on TZ, and time_t may be 32 bits), no allocation. */
#include "timestamp.h"

#include <string.h>

#define NS_PER_SEC 1000000000

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; y may be negative).
 * The era arithmetic keeps every division on non-negative numbers. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                           /* [0, 399] */
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;   /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n ASCII digits at s[*i] (isdigit would accept locale digits). */
static bool digits(const char *s, size_t len, size_t *i, int n, int *out)
{
    if (len - *i < (size_t)n)
        return false;
    int v = 0;
    for (int k = 0; k < n; k++) {
        char c = s[*i + (size_t)k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *i += (size_t)n;
    *out = v;
    return true;
}

static bool expect(const char *s, size_t len, size_t *i, char c)
{
    if (*i >= len || s[*i] != c)
        return false;
    (*i)++;
    return true;
}

bool asl_timestamp_parse_parts(const char *s, size_t len, int64_t *sec_out, int32_t *nsec_out)
{
    if (!s)
        return false;
    size_t i = 0;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0; /* set by digits(); gcc -O3 cannot tell */
    if (!digits(s, len, &i, 4, &y) || !expect(s, len, &i, '-') ||
        !digits(s, len, &i, 2, &mo) || !expect(s, len, &i, '-') ||
        !digits(s, len, &i, 2, &d))
        return false;
    if (i >= len || (s[i] != 'T' && s[i] != 't'))
        return false;
    i++;
    if (!digits(s, len, &i, 2, &h) || !expect(s, len, &i, ':') ||
        !digits(s, len, &i, 2, &mi) || !expect(s, len, &i, ':') ||
        !digits(s, len, &i, 2, &se))
        return false;

    int32_t nsec = 0;
    if (i < len && s[i] == '.') {
        i++;
        int nd = 0;
        int32_t scale = NS_PER_SEC;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (++nd > 9)
                return false;
            scale /= 10;
            nsec += (int32_t)(s[i] - '0') * scale;
            i++;
        }
        if (nd == 0)
            return false;
    }

    int off = 0; /* seconds east of UTC */
    if (i >= len)
        return false;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        int sign = s[i] == '-' ? -1 : 1;
        int oh, om;
        i++;
        if (!digits(s, len, &i, 2, &oh) || !expect(s, len, &i, ':') ||
            !digits(s, len, &i, 2, &om))
            return false;
        /* Java's ZoneOffset stops at 18:00; RFC 3339 at 23:59. */
        if (om > 59 || oh > 18 || (oh == 18 && om != 0))
            return false;
        off = sign * (oh * 3600 + om * 60);
    } else {
        return false;
    }
    if (i != len)
        return false;

    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || se > 59)
        return false;

    int64_t days = days_from_civil(y, mo, d);
    *sec_out = days * 86400 + h * 3600 + mi * 60 + se - off;
    *nsec_out = nsec;
    return true;
}

bool asl_timestamp_parse(const char *s, int64_t *ns_out)
{
    int64_t sec;
    int32_t nsec;
    if (!s || !asl_timestamp_parse_parts(s, strlen(s), &sec, &nsec))
        return false;
    /* INT64_MAX ns is 9223372036 s + 854775807 ns; INT64_MIN is
     * -9223372037 s + 145224192 ns (floored). Saturate beyond those. */
    if (sec > 9223372036LL || (sec == 9223372036LL && nsec > 854775807))
        *ns_out = INT64_MAX;
    else if (sec < -9223372037LL || (sec == -9223372037LL && nsec < 145224192))
        *ns_out = INT64_MIN;
    else if (sec < 0)
        *ns_out = (sec + 1) * NS_PER_SEC + (nsec - NS_PER_SEC);
    else
        *ns_out = sec * NS_PER_SEC + nsec;
    return true;
}

/* Writes v (>= 0) zero-padded to at least width digits; returns the end. */
static char *put_num(char *p, int64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v > 0);
    while (n < width)
        tmp[n++] = '0';
    while (n > 0)
        *p++ = tmp[--n];
    return p;
}

void asl_timestamp_format_ms(int64_t ms, char buf[32])
{
    /* Floor division so that instants before 1970 print forwards. */
    int64_t secs = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);

    /* Java's ISO format: 4-digit years, '+' beyond 9999, '-' before 0000.
     * The widest (+292278994) still fits: 10 + 20 characters + NUL. */
    char *p = buf;
    if (y < 0) {
        *p++ = '-';
        p = put_num(p, -y, 4);
    } else {
        if (y > 9999)
            *p++ = '+';
        p = put_num(p, y, 4);
    }
    *p++ = '-';
    p = put_num(p, m, 2);
    *p++ = '-';
    p = put_num(p, d, 2);
    *p++ = 'T';
    p = put_num(p, sod / 3600, 2);
    *p++ = ':';
    p = put_num(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_num(p, sod % 60, 2);
    *p++ = '.';
    p = put_num(p, frac, 3);
    *p++ = 'Z';
    *p = '\0';
}
