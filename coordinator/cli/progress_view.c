/* cli/progress_view.c - samples of an execution's running tasks, and the
 * lines `statefleet watch` shows of them (see progress_view.h).
 *
 * Pure by design: no clock, no terminal, no stdio. Everything that reaches
 * the screen passes through clean(), because state and worker names come
 * from other people's definitions and hosts and an escape sequence in one
 * must not drive the terminal. */
#define _POSIX_C_SOURCE 200809L /* gmtime_r */
#include "progress_view.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The moving average forgets with this time constant: long enough that a
 * worker reporting every 100 ms does not make the rate flicker, short enough
 * that a slowdown shows within a few seconds. Weighting by the time between
 * reports (not per sample) keeps irregular reports from skewing it. */
#define RATE_TAU_S 2.0

#define BAR_MAX 30 /* cells inside the brackets when the terminal is wide */
#define BAR_MIN 10 /* narrower than this a bar says too little to keep */
#define NAME_COLS_MAX 24

/* ---- small helpers ---- */

#if defined(__GNUC__)
#define PRINTF_LIKE(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PRINTF_LIKE(fmt, args)
#endif

/* Copies src into dst (cap bytes), replacing control characters, and cuts
 * a truncated name at a UTF-8 character boundary. */
static void clean(char *dst, size_t cap, const char *src)
{
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++) {
        unsigned char ch = (unsigned char)src[n];
        /* C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F) include CSI. */
        bool c1 =
            ch == 0xc2 && (unsigned char)src[n + 1] >= 0x80 && (unsigned char)src[n + 1] <= 0x9f;
        if (c1 && n + 2 < cap) {
            dst[n++] = '?';
            dst[n] = '?';
            continue;
        }
        dst[n] = ch < 0x20 || ch == 0x7f || c1 ? '?' : (char)ch;
    }
    if (src && src[n]) /* truncated: drop a partial character */
        while (n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0x80)
            n--;
    if (src && src[n] && n > 0 && ((unsigned char)dst[n - 1] & 0xc0) == 0xc0)
        n--;
    dst[n] = '\0';
}

static double num_or_nan(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* An integer count; a real that holds one (some encoders write 3.0) counts
 * too. dflt when absent, negative or not a whole number. */
static long long count_or(const json_t *v, long long dflt)
{
    double d = num_or_nan(v);
    if (json_is_integer(v))
        return json_integer_value(v) >= 0 ? (long long)json_integer_value(v) : dflt;
    if (isfinite(d) && d >= 0 && d < 9e18 && d == floor(d))
        return (long long)d;
    return dflt;
}

/* Display columns of s: one per UTF-8 character. Wide (CJK) characters
 * take two on a terminal; they are rare in state names and being off by a
 * few costs only a shorter line. */
static int cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Cuts s to at most max columns, on a character boundary. */
static void cut_cols(char *s, int max)
{
    int n = 0;
    for (char *p = s; *p; p++) {
        if (((unsigned char)*p & 0xc0) != 0x80 && n++ == max) {
            *p = '\0';
            return;
        }
    }
}

/* A line being built: appends are cut at the cap rather than failing. */
typedef struct lbuf {
    char s[CLI_PROGRESS_LINE_MAX];
    size_t len;
} lbuf;

static void lb_add(lbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void lb_add(lbuf *b, const char *fmt, ...)
{
    size_t room = sizeof b->s - b->len;
    if (room <= 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s + b->len, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        b->len += (size_t)n < room ? (size_t)n : room - 1;
}

/* 12345 as "12,345". */
static void group(long long v, char *out, size_t outlen)
{
    char digits[32];
    int nd = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v);
    size_t o = 0;
    if (v < 0 && o + 1 < outlen)
        out[o++] = '-';
    for (int i = 0; i < nd && o + 1 < outlen; i++) {
        out[o++] = digits[i];
        int left = nd - i - 1;
        if (left > 0 && left % 3 == 0 && o + 1 < outlen)
            out[o++] = ',';
    }
    out[o] = '\0';
}

void cli_progress_format_time(double t, char *out, size_t outlen)
{
    struct tm tm;
    /* Years 0..9999 only: what ISO 8601 writes in four digits. */
    if (!isfinite(t) || t < -62135596800.0 || t > 253402300799.0) {
        snprintf(out, outlen, "-");
        return;
    }
    time_t s = (time_t)floor(t);
    if (!gmtime_r(&s, &tm)) {
        snprintf(out, outlen, "-");
        return;
    }
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void cli_progress_format_duration(double seconds, char *out, size_t outlen)
{
    if (!isfinite(seconds) || seconds > 360000000.0) { /* past 100,000 hours */
        snprintf(out, outlen, "-");
        return;
    }
    long long s = seconds > 0 ? llround(seconds) : 0;
    if (s >= 3600)
        snprintf(out, outlen, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        snprintf(out, outlen, "%lld:%02lld", s / 60, s % 60);
}

/* ---- decoding ---- */

static void decode_task(const json_t *v, cli_progress_task *t)
{
    memset(t, 0, sizeof *t);
    clean(t->state, sizeof t->state, json_string_value(json_object_get(v, "stateName")));
    clean(t->kernel, sizeof t->kernel, json_string_value(json_object_get(v, "kernel")));
    clean(t->worker, sizeof t->worker, json_string_value(json_object_get(v, "worker")));
    t->attempt = count_or(json_object_get(v, "attempt"), 0);
    t->start_date = num_or_nan(json_object_get(v, "startDate"));
    t->fraction = t->updated_date = NAN;
    t->records = t->epoch = -1;
    t->record_rate = t->fraction_rate = t->eta = NAN;
    json_t *p = json_object_get(v, "progress");
    if (!json_is_object(p))
        return;
    t->has_progress = true;
    double f = num_or_nan(json_object_get(p, "fraction"));
    t->fraction = f < 0 ? 0 : f > 1 ? 1 : f; /* NAN stays NAN */
    t->records = count_or(json_object_get(p, "records"), -1);
    t->epoch = count_or(json_object_get(p, "epoch"), -1);
    t->updated_date = num_or_nan(json_object_get(p, "updatedDate"));
    const char *k;
    json_t *m;
    json_object_foreach(json_object_get(p, "metrics"), k, m)
    {
        if (t->nmetrics == CLI_PROGRESS_METRICS_MAX)
            break;
        if (!json_is_number(m))
            continue;
        cli_progress_metric *out = &t->metrics[t->nmetrics++];
        clean(out->name, sizeof out->name, k);
        out->value = json_number_value(m);
    }
}

sf_rc cli_progress_decode(const json_t *describe, double taken, cli_progress_sample *s)
{
    memset(s, 0, sizeof *s);
    s->taken = taken;
    const char *name = json_string_value(json_object_get(describe, "name"));
    const char *arn = json_string_value(json_object_get(describe, "executionArn"));
    if (!name && arn) /* the ARN ends in the execution's name */
        name = strrchr(arn, ':') ? strrchr(arn, ':') + 1 : arn;
    clean(s->name, sizeof s->name, name ? name : "-");
    const char *status = json_string_value(json_object_get(describe, "status"));
    clean(s->status, sizeof s->status, status ? status : "-");
    s->start_date = num_or_nan(json_object_get(describe, "startDate"));

    const json_t *tasks = json_object_get(describe, "statefleetTasks");
    size_t n = json_array_size(tasks); /* 0 when absent or not an array */
    size_t keep = n < CLI_PROGRESS_TASKS_MAX ? n : CLI_PROGRESS_TASKS_MAX;
    if (keep && !(s->tasks = calloc(keep, sizeof *s->tasks)))
        return SF_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        const json_t *v = json_array_get(tasks, i);
        if (!json_is_object(v))
            continue;
        if (s->n == keep) {
            s->dropped++;
            continue;
        }
        decode_task(v, &s->tasks[s->n++]);
    }
    return SF_OK;
}

void cli_progress_cleanup(cli_progress_sample *s)
{
    if (!s)
        return;
    free(s->tasks);
    memset(s, 0, sizeof *s);
}

/* ---- rates ---- */

/* Dates compare equal when both are absent too. */
static bool same_date(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* The task in s that t continues, or NULL. Two tasks of one state started
 * in the same instant (Map iterations) may be confused; that costs only a
 * rate that settles within a few reports. */
static const cli_progress_task *find_task(const cli_progress_sample *s, const cli_progress_task *t)
{
    for (size_t i = 0; s && i < s->n; i++) {
        const cli_progress_task *o = &s->tasks[i];
        if (o->attempt == t->attempt && same_date(o->start_date, t->start_date) &&
            strcmp(o->state, t->state) == 0)
            return o;
    }
    return NULL;
}

/* The moving average of prev and a new instantaneous rate over dt s. */
static double smooth(double prev, double inst, double dt)
{
    if (isnan(prev))
        return inst;
    double alpha = 1.0 - exp(-dt / RATE_TAU_S);
    return prev + alpha * (inst - prev);
}

static void derive_task(const cli_progress_task *old, cli_progress_task *t)
{
    if (!t->has_progress || !old || !old->has_progress)
        return;
    double dt = t->updated_date - old->updated_date;
    if (!(dt > 0)) { /* the same report again (or the dates are absent) */
        t->record_rate = old->record_rate;
        t->fraction_rate = old->fraction_rate;
    } else {
        /* A count that went down means the task started over: the old
         * rate describes another run. */
        if (t->records >= 0 && old->records >= 0 && t->records >= old->records)
            t->record_rate = smooth(old->record_rate, (double)(t->records - old->records) / dt, dt);
        if (!isnan(t->fraction) && !isnan(old->fraction) && t->fraction >= old->fraction)
            t->fraction_rate = smooth(old->fraction_rate, (t->fraction - old->fraction) / dt, dt);
    }
    if (!isnan(t->fraction) && t->fraction >= 1.0)
        t->eta = 0;
    else if (t->fraction_rate > 0)
        t->eta = (1.0 - t->fraction) / t->fraction_rate;
}

void cli_progress_derive(const cli_progress_sample *prev, cli_progress_sample *cur)
{
    for (size_t i = 0; i < cur->n; i++)
        derive_task(find_task(prev, &cur->tasks[i]), &cur->tasks[i]);
}

/* ---- shared formatting ---- */

/* Whole percent, rounded down so that 100% means done. */
static int percent(double fraction)
{
    return (int)floor(fraction * 100.0 + 1e-9);
}

/* What a person calls the metric: "train:objective_loss" is "loss". The
 * last word is taken only when it is one (letters, 3 or more), so "top_1"
 * stays whole. */
static const char *short_metric(const char *name)
{
    const char *s = strrchr(name, ':') ? strrchr(name, ':') + 1 : name;
    const char *w = strrchr(s, '_');
    if (!w)
        return s;
    size_t n = 0;
    for (const char *p = w + 1; *p; p++, n++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return s;
    return n >= 3 ? w + 1 : s;
}

static void format_value(double v, char *out, size_t outlen)
{
    if (v == 0 || (fabs(v) >= 0.01 && fabs(v) < 1000))
        snprintf(out, outlen, "%.3f", v);
    else
        snprintf(out, outlen, "%.3g", v);
}

/* ---- the terminal view ---- */

/* The fields of a task's line, in the order shown. */
enum {
    F_NAME,
    F_BAR,
    F_PCT,
    F_STATE, /* "waiting for a worker", "no progress yet" */
    F_ELAPSED,
    F_RECORDS,
    F_RATE,
    F_EPOCH,
    F_METRIC,
    F_ETA,
    F_WORKER,
    F_ATTEMPT,
    F_COUNT
};

/* Which field goes next when the line is too wide: least useful first. */
static const int drop_order[] = {F_ATTEMPT, F_WORKER, F_METRIC, F_EPOCH, F_RECORDS,
                                 F_ELAPSED, F_RATE,   F_BAR,    F_ETA,   F_STATE};

typedef struct field {
    char text[256];
    bool on;
} field;

static void set_field(field *f, const char *fmt, ...) PRINTF_LIKE(2, 3);

static void set_field(field *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
    f->on = true;
}

/* Columns of the line with the bar bar cells wide. */
static int line_cols(const field *f, int bar)
{
    int n = 0, shown = 0;
    for (int i = 0; i < F_COUNT; i++) {
        if (!f[i].on)
            continue;
        n += i == F_BAR ? bar + 2 : cols(f[i].text);
        shown++;
    }
    return n + 2 * (shown > 0 ? shown - 1 : 0);
}

static void task_fields(const cli_progress_task *t, double now, int name_cols, field *f)
{
    char a[64], b[64];
    memset(f, 0, F_COUNT * sizeof *f);
    snprintf(f[F_NAME].text, sizeof f[F_NAME].text, "%s", t->state);
    cut_cols(f[F_NAME].text, name_cols);
    size_t len = strlen(f[F_NAME].text);
    for (int pad = name_cols - cols(f[F_NAME].text); pad > 0 && len + 1 < sizeof f->text; pad--)
        f[F_NAME].text[len++] = ' ';
    f[F_NAME].text[len] = '\0';
    f[F_NAME].on = true;
    if (!t->has_progress) {
        set_field(&f[F_STATE], "%s", *t->worker ? "no progress yet" : "waiting for a worker");
        if (!isnan(t->start_date)) {
            cli_progress_format_duration(now - t->start_date, a, sizeof a);
            set_field(&f[F_ELAPSED], "%s", a);
        }
    }
    if (!isnan(t->fraction)) {
        f[F_BAR].on = true;
        set_field(&f[F_PCT], "%3d%%", percent(t->fraction));
    }
    if (t->records >= 0) {
        group(t->records, a, sizeof a);
        set_field(&f[F_RECORDS], "%s rec", a);
    }
    if (!isnan(t->record_rate)) {
        if (t->record_rate >= 100)
            group(llround(t->record_rate), a, sizeof a);
        else
            snprintf(a, sizeof a, "%.1f", t->record_rate);
        set_field(&f[F_RATE], "%s rec/s", a);
    } else if (!isnan(t->fraction_rate)) {
        set_field(&f[F_RATE], "%.2g%%/s", t->fraction_rate * 100.0);
    }
    if (t->epoch >= 0)
        set_field(&f[F_EPOCH], "epoch %lld", t->epoch);
    if (t->nmetrics) {
        format_value(t->metrics[0].value, b, sizeof b);
        set_field(&f[F_METRIC], "%s %s", short_metric(t->metrics[0].name), b);
    }
    if (!isnan(t->eta)) {
        cli_progress_format_duration(t->eta, a, sizeof a);
        set_field(&f[F_ETA], "ETA %s", a);
    }
    if (*t->worker)
        set_field(&f[F_WORKER], "on %s", t->worker);
    if (t->attempt > 0)
        set_field(&f[F_ATTEMPT], "attempt %lld", t->attempt);
}

/* One task's line in at most max columns: the bar shrinks to BAR_MIN
 * first, then fields go in drop_order, then the line is cut. */
static void task_line(const cli_progress_task *t, double now, int name_cols, int max, lbuf *out)
{
    field f[F_COUNT];
    task_fields(t, now, name_cols, f);
    int bar = BAR_MAX;
    int over = line_cols(f, bar) - max;
    if (over > 0 && f[F_BAR].on)
        bar = over >= BAR_MAX - BAR_MIN ? BAR_MIN : BAR_MAX - over;
    for (size_t i = 0; i < sizeof drop_order / sizeof drop_order[0]; i++)
        if (line_cols(f, bar) > max)
            f[drop_order[i]].on = false;
    /* What was dropped may leave the bar room to grow back. */
    int room = max - line_cols(f, BAR_MIN);
    if (f[F_BAR].on && room > 0)
        bar = BAR_MIN + (room < BAR_MAX - BAR_MIN ? room : BAR_MAX - BAR_MIN);

    out->len = 0;
    out->s[0] = '\0';
    bool first = true;
    for (int i = 0; i < F_COUNT; i++) {
        if (!f[i].on)
            continue;
        lb_add(out, "%s", first ? "" : "  ");
        first = false;
        if (i == F_BAR) {
            int filled = (int)floor(t->fraction * bar + 1e-9);
            lb_add(out, "[");
            for (int c = 0; c < bar; c++)
                lb_add(out, "%c", c < filled ? '#' : '.');
            lb_add(out, "]");
        } else {
            lb_add(out, "%s", f[i].text);
        }
    }
    /* The name's padding is all that can trail. */
    while (out->len > 0 && out->s[out->len - 1] == ' ')
        out->s[--out->len] = '\0';
    cut_cols(out->s, max);
}

void cli_progress_render_tty(const cli_progress_sample *cur, int width, int height,
                             cli_progress_sink *sink, void *ctx)
{
    int max = width > 1 ? width - 1 : 1;
    size_t rows = height > 1 ? (size_t)height : 1;
    size_t total = cur->n + cur->dropped;
    /* The header, the tasks, and "... and N more" when they do not fit. */
    size_t shown = total + 1 <= rows ? cur->n : rows >= 2 ? rows - 2 : 0;

    /* The header; the time it has run goes first when it does not fit. */
    lbuf b;
    char el[32] = "";
    if (!isnan(cur->start_date))
        cli_progress_format_duration(cur->taken - cur->start_date, el, sizeof el);
    for (int with_time = *el ? 1 : 0; with_time >= 0; with_time--) {
        b.len = 0;
        lb_add(&b, "%s  %s%s%s  %zu task%s running", cur->name, cur->status, with_time ? "  " : "",
               with_time ? el : "", total, total == 1 ? "" : "s");
        if (cols(b.s) <= max)
            break;
    }
    cut_cols(b.s, max);
    sink(ctx, b.s);

    int name_cols = 0;
    for (size_t i = 0; i < shown; i++) {
        int c = cols(cur->tasks[i].state);
        if (c > name_cols)
            name_cols = c;
    }
    if (name_cols > NAME_COLS_MAX)
        name_cols = NAME_COLS_MAX;
    for (size_t i = 0; i < shown; i++) {
        task_line(&cur->tasks[i], cur->taken, name_cols, max, &b);
        sink(ctx, b.s);
    }
    if (shown < total && rows >= 2) {
        b.len = 0;
        lb_add(&b, "... and %zu more", total - shown);
        cut_cols(b.s, max);
        sink(ctx, b.s);
    }
}

/* ---- the plain view ---- */

static void plain_progress(const cli_progress_task *t, lbuf *b)
{
    char ts[32], v[64];
    cli_progress_format_time(t->updated_date, ts, sizeof ts);
    b->len = 0;
    lb_add(b, "%s %s", ts, t->state);
    if (!isnan(t->fraction))
        lb_add(b, " %d%%", percent(t->fraction));
    if (t->records >= 0)
        lb_add(b, " records=%lld", t->records);
    if (!isnan(t->record_rate))
        lb_add(b, t->record_rate >= 100 ? " rate=%.0f/s" : " rate=%.3g/s", t->record_rate);
    else if (!isnan(t->fraction_rate))
        lb_add(b, " rate=%.3g%%/s", t->fraction_rate * 100.0);
    if (t->epoch >= 0)
        lb_add(b, " epoch=%lld", t->epoch);
    for (size_t i = 0; i < t->nmetrics; i++) {
        snprintf(v, sizeof v, "%g", t->metrics[i].value);
        lb_add(b, " %s=%s", t->metrics[i].name, v);
    }
    if (!isnan(t->eta))
        lb_add(b, " eta=%.0fs", t->eta);
    if (t->attempt > 0)
        lb_add(b, " attempt=%lld", t->attempt);
    if (*t->worker)
        lb_add(b, " worker=%s", t->worker);
}

void cli_progress_render_plain(const cli_progress_sample *prev, const cli_progress_sample *cur,
                               cli_progress_sink *sink, void *ctx)
{
    lbuf b;
    char ts[32];
    cli_progress_format_time(cur->taken, ts, sizeof ts);
    for (size_t i = 0; prev && i < prev->n; i++) {
        if (find_task(cur, &prev->tasks[i]))
            continue;
        b.len = 0;
        lb_add(&b, "%s %s ended", ts, prev->tasks[i].state);
        sink(ctx, b.s);
    }
    for (size_t i = 0; i < cur->n; i++) {
        const cli_progress_task *t = &cur->tasks[i];
        const cli_progress_task *old = find_task(prev, t);
        if (!old) {
            char started[32];
            cli_progress_format_time(isnan(t->start_date) ? cur->taken : t->start_date, started,
                                     sizeof started);
            b.len = 0;
            lb_add(&b, "%s %s started", started, t->state);
            if (*t->kernel)
                lb_add(&b, " kernel=%s", t->kernel);
            lb_add(&b, " attempt=%lld", t->attempt);
            if (*t->worker)
                lb_add(&b, " worker=%s", t->worker);
            else
                lb_add(&b, " waiting for a worker");
            sink(ctx, b.s);
        }
        bool moved = t->has_progress &&
                     (!old || !old->has_progress || !same_date(old->updated_date, t->updated_date));
        if (moved) {
            plain_progress(t, &b);
            sink(ctx, b.s);
        } else if (old && *t->worker && strcmp(old->worker, t->worker) != 0) {
            b.len = 0;
            lb_add(&b, "%s %s assigned worker=%s", ts, t->state, t->worker);
            sink(ctx, b.s);
        }
    }
}
