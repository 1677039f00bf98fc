/* tests/common/test_progress_view.c - what `statefleet watch` makes of
 * statefleetTasks: decoding, rates and ETAs, and both views' lines.
 *
 * The view lives with the CLI, which the tests do not link; it is pure (no
 * I/O, no globals), so the source is compiled in here. It comes first: it
 * sets the feature-test macro it needs before any system header. */
#include "coordinator/cli/progress_view.c"

#include <criterion/criterion.h>

#define S0 1764000000.0 /* 2025-11-24T16:00:00Z */

typedef struct lines {
    char text[64][CLI_PROGRESS_LINE_MAX];
    size_t n;
} lines;

static void collect(void *ctx, const char *line)
{
    lines *l = ctx;
    cr_assert_lt(l->n, 64, "too many lines");
    snprintf(l->text[l->n++], CLI_PROGRESS_LINE_MAX, "%s", line);
}

/* A sample decoded from JSON text, taken at S0 + at. */
static void sample(const char *json, double at, cli_progress_sample *s)
{
    json_error_t je;
    json_t *v = json_loads(json, 0, &je);
    cr_assert_not_null(v, "bad test JSON: %s", je.text);
    cr_assert_eq(cli_progress_decode(v, S0 + at, s), SF_OK);
    json_decref(v);
}

/* One running task with progress reported at S0 + at. */
static void one_task(double fraction, long long records, double at, cli_progress_sample *s)
{
    char json[512];
    snprintf(json, sizeof json,
             "{\"name\":\"run\",\"status\":\"RUNNING\",\"startDate\":%.3f,\"statefleetTasks\":["
             "{\"stateName\":\"Train\",\"kernel\":\"spin\",\"worker\":\"host-node0\",\"attempt\":0,"
             "\"startDate\":%.3f,\"progress\":{\"fraction\":%g,\"records\":%lld,\"epoch\":3,"
             "\"metrics\":{\"train:objective_loss\":0.31},\"updatedDate\":%.3f}}]}",
             S0, S0, fraction, records, S0 + at);
    sample(json, at, s);
}

Test(progress_view, decodes_a_task_and_leaves_what_is_absent_unknown)
{
    cli_progress_sample s;
    sample("{\"executionArn\":\"arn:aws:states:us-east-1:1:execution:m:run-7\","
           "\"status\":\"RUNNING\",\"statefleetTasks\":[{\"stateName\":\"Wait\",\"attempt\":2},"
           "7, {\"stateName\":\"P\",\"worker\":\"w\",\"progress\":{\"fraction\":1.5,"
           "\"records\":-4,\"epoch\":2.0,\"metrics\":{\"a\":1,\"b\":\"x\",\"c\":2.5}}}]}",
           0, &s);
    cr_assert_str_eq(s.name, "run-7", "the name is the ARN's last field when absent");
    cr_assert_str_eq(s.status, "RUNNING");
    cr_assert(isnan(s.start_date));
    cr_assert_eq(s.n, 2, "a task that is not an object is skipped");
    const cli_progress_task *w = &s.tasks[0], *p = &s.tasks[1];
    cr_assert_str_eq(w->state, "Wait");
    cr_assert_str_eq(w->worker, "");
    cr_assert_eq(w->attempt, 2);
    cr_assert_not(w->has_progress);
    cr_assert(isnan(w->fraction) && w->records == -1 && w->epoch == -1);
    cr_assert(p->has_progress);
    cr_assert_float_eq(p->fraction, 1.0, 1e-12, "a fraction is clamped to 0..1");
    cr_assert_eq(p->records, -1, "a negative count is absent");
    cr_assert_eq(p->epoch, 2, "a whole real counts");
    cr_assert_eq(p->nmetrics, 2, "a metric that is not a number is skipped");
    cr_assert_str_eq(p->metrics[1].name, "c");
    cr_assert(isnan(p->record_rate) && isnan(p->eta));
    cli_progress_cleanup(&s);
    cli_progress_cleanup(&s); /* cleanup of a cleaned sample is harmless */
}

Test(progress_view, cleans_control_characters_and_cuts_names_on_a_character)
{
    char out[8];
    clean(out, sizeof out, "a\x1b[2Jb");
    cr_assert_str_eq(out, "a?[2Jb");
    clean(out, sizeof out,
          "x\xc2\x9b"
          "1m");
    cr_assert_str_eq(out, "x??1m", "a C1 CSI is two bytes of UTF-8");
    clean(out, sizeof out, "abcde\xc3\xa9z"); /* é would straddle the cap */
    cr_assert_str_eq(out, "abcde");
    char s[32] = "\xc3\xa9t\xc3\xa9 long";
    cr_assert_eq(cols(s), 8);
    cut_cols(s, 3);
    cr_assert_str_eq(s, "\xc3\xa9t\xc3\xa9");
}

Test(progress_view, keeps_a_capped_number_of_tasks_and_counts_the_rest)
{
    json_t *tasks = json_array();
    for (int i = 0; i < CLI_PROGRESS_TASKS_MAX + 5; i++)
        json_array_append_new(tasks, json_pack("{s:s}", "stateName", "M"));
    json_t *v = json_pack("{s:s, s:o}", "status", "RUNNING", "statefleetTasks", tasks);
    cli_progress_sample s;
    cr_assert_eq(cli_progress_decode(v, S0, &s), SF_OK);
    cr_assert_eq(s.n, CLI_PROGRESS_TASKS_MAX);
    cr_assert_eq(s.dropped, 5);
    lines l = {.n = 0};
    cli_progress_render_tty(&s, 80, 10, collect, &l);
    cr_assert_eq(l.n, 10);
    cr_assert_str_eq(l.text[9], "... and 4093 more");
    cli_progress_cleanup(&s);
    json_decref(v);
}

Test(progress_view, a_steady_rate_stays_exact_and_gives_an_eta)
{
    cli_progress_sample a, b, c;
    one_task(0.1, 1000, 1, &a);
    one_task(0.2, 2000, 2, &b);
    one_task(0.3, 3000, 3, &c);
    cli_progress_derive(NULL, &a);
    cr_assert(isnan(a.tasks[0].record_rate), "one report makes no rate");
    cli_progress_derive(&a, &b);
    cli_progress_derive(&b, &c);
    cr_assert_float_eq(c.tasks[0].record_rate, 1000.0, 1e-6);
    cr_assert_float_eq(c.tasks[0].fraction_rate, 0.1, 1e-9);
    cr_assert_float_eq(c.tasks[0].eta, 7.0, 1e-6);
    cli_progress_cleanup(&a);
    cli_progress_cleanup(&b);
    cli_progress_cleanup(&c);
}

Test(progress_view, the_average_moves_by_the_time_between_reports)
{
    cli_progress_sample a, b, c, d;
    one_task(0.1, 0, 1, &a);
    one_task(0.2, 1000, 2, &b);   /* 1000/s */
    one_task(0.3, 4000, 2.5, &c); /* 6000/s over half a second */
    cli_progress_derive(NULL, &a);
    cli_progress_derive(&a, &b);
    cli_progress_derive(&b, &c);
    double alpha = 1.0 - exp(-0.5 / RATE_TAU_S);
    cr_assert_float_eq(c.tasks[0].record_rate, 1000.0 + alpha * 5000.0, 1e-6);
    /* The same report again changes nothing; fewer records start over. */
    one_task(0.3, 4000, 2.5, &d);
    cli_progress_derive(&c, &d);
    cr_assert_float_eq(d.tasks[0].record_rate, c.tasks[0].record_rate, 1e-9);
    cli_progress_cleanup(&d);
    one_task(0.01, 10, 3, &d);
    cli_progress_derive(&c, &d);
    cr_assert(isnan(d.tasks[0].record_rate) && isnan(d.tasks[0].fraction_rate));
    cr_assert(isnan(d.tasks[0].eta));
    cli_progress_cleanup(&a);
    cli_progress_cleanup(&b);
    cli_progress_cleanup(&c);
    cli_progress_cleanup(&d);
}

Test(progress_view, a_wide_terminal_shows_every_field)
{
    cli_progress_sample a, b;
    one_task(0.40, 10000, 1, &a);
    one_task(0.42, 12345, 2, &b);
    cli_progress_derive(NULL, &a);
    cli_progress_derive(&a, &b);
    lines l = {.n = 0};
    cli_progress_render_tty(&b, 200, 24, collect, &l);
    cr_assert_eq(l.n, 2);
    cr_assert_str_eq(l.text[0], "run  RUNNING  0:02  1 task running");
    cr_assert_str_eq(l.text[1], "Train  [############..................]   42%  12,345 rec  "
                                "2,345 rec/s  epoch 3  loss 0.310  ETA 0:29  on host-node0");
    cli_progress_cleanup(&a);
    cli_progress_cleanup(&b);
}

Test(progress_view, narrower_lines_shrink_the_bar_then_drop_fields)
{
    cli_progress_sample a, b;
    one_task(0.40, 10000, 1, &a);
    one_task(0.42, 12345, 2, &b);
    cli_progress_derive(NULL, &a);
    cli_progress_derive(&a, &b);
    for (int width = 2; width <= 160; width++) {
        lines l = {.n = 0};
        cli_progress_render_tty(&b, width, 24, collect, &l);
        for (size_t i = 0; i < l.n; i++)
            cr_assert_leq(cols(l.text[i]), width > 1 ? width - 1 : 1, "width %d: '%s'", width,
                          l.text[i]);
    }
    lines l = {.n = 0};
    /* 116 columns fit all with a 30-cell bar; 106 need a 20-cell one. */
    cli_progress_render_tty(&b, 107, 24, collect, &l);
    cr_assert_str_eq(l.text[1], "Train  [########............]   42%  12,345 rec  2,345 rec/s  "
                                "epoch 3  loss 0.310  ETA 0:29  on host-node0");
    l.n = 0;
    cli_progress_render_tty(&b, 60, 24, collect, &l);
    cr_assert_str_eq(l.text[1], "Train  [########.............]   42%  2,345 rec/s  ETA 0:29",
                     "worker, loss, epoch, records go first; the bar takes back the room");
    l.n = 0;
    cli_progress_render_tty(&b, 22, 24, collect, &l);
    cr_assert_str_eq(l.text[1], "Train   42%  ETA 0:29", "then the rate and the bar");
    cli_progress_cleanup(&a);
    cli_progress_cleanup(&b);
}

Test(progress_view, plain_lines_say_what_changed)
{
    cli_progress_sample a, b, c, d;
    sample("{\"name\":\"run\",\"status\":\"RUNNING\",\"statefleetTasks\":["
           "{\"stateName\":\"Train\",\"kernel\":\"spin\",\"attempt\":0,\"startDate\":1764000000}]}",
           1, &a);
    sample("{\"name\":\"run\",\"status\":\"RUNNING\",\"statefleetTasks\":["
           "{\"stateName\":\"Train\",\"worker\":\"w0\",\"attempt\":0,\"startDate\":1764000000}]}",
           2, &b);
    one_task(0.42, 12345, 3, &c);
    one_task(0.42, 12345, 3, &d);
    lines l = {.n = 0};
    cli_progress_render_plain(NULL, &a, collect, &l);
    cli_progress_render_plain(&a, &b, collect, &l);
    cli_progress_render_plain(&b, &c, collect, &l);
    cli_progress_render_plain(&c, &d, collect, &l);
    cli_progress_render_plain(&d, &a, collect, &l); /* Train's attempt 0 again: the same task */
    cli_progress_cleanup(&a);
    sample("{\"status\":\"RUNNING\"}", 9, &a);
    cli_progress_render_plain(&d, &a, collect, &l);
    cr_assert_eq(l.n, 4);
    cr_assert_str_eq(
        l.text[0], "2025-11-24T16:00:00Z Train started kernel=spin attempt=0 waiting for a worker");
    cr_assert_str_eq(l.text[1], "2025-11-24T16:00:02Z Train assigned worker=w0");
    cr_assert_str_eq(l.text[2], "2025-11-24T16:00:03Z Train 42% records=12345 epoch=3 "
                                "train:objective_loss=0.31 worker=host-node0");
    cr_assert_str_eq(l.text[3], "2025-11-24T16:00:09Z Train ended");
    cli_progress_cleanup(&a);
    cli_progress_cleanup(&b);
    cli_progress_cleanup(&c);
    cli_progress_cleanup(&d);
}

Test(progress_view, formats_numbers_times_and_durations)
{
    char out[64];
    group(12345, out, sizeof out);
    cr_assert_str_eq(out, "12,345");
    group(-1234567, out, sizeof out);
    cr_assert_str_eq(out, "-1,234,567");
    group(999, out, sizeof out);
    cr_assert_str_eq(out, "999");
    cli_progress_format_duration(7.4, out, sizeof out);
    cr_assert_str_eq(out, "0:07");
    cli_progress_format_duration(3725, out, sizeof out);
    cr_assert_str_eq(out, "1:02:05");
    cli_progress_format_duration(-3, out, sizeof out);
    cr_assert_str_eq(out, "0:00");
    cli_progress_format_duration(INFINITY, out, sizeof out);
    cr_assert_str_eq(out, "-");
    cli_progress_format_time(S0 + 5.5, out, sizeof out);
    cr_assert_str_eq(out, "2025-11-24T16:00:05Z");
    cli_progress_format_time(NAN, out, sizeof out);
    cr_assert_str_eq(out, "-");
    cr_assert_str_eq(short_metric("train:objective_loss"), "loss");
    cr_assert_str_eq(short_metric("val:top_1"), "top_1");
    cr_assert_str_eq(short_metric("accuracy"), "accuracy");
}
