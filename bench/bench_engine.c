/* bench/bench_engine.c - state transitions per second, in memory, one core.
 *
 * (a) a 10,000-state Pass chain, (b) a distributed Map over 100,000 items
 * with a Pass and a Choice per item. 100,000 items are far over AWS's
 * 256 KiB payload limit, so (b) reads them with an ItemReader and hands the
 * results to a ResultWriter, as a real distributed Map does; this program
 * plays the shell and answers both from memory. Each is printed with its cost per
 * transition and as a ratio against a baseline measured in the same run: a
 * naive walk of the same definition that only looks each next state up by
 * name in the parsed JSON (no data flow, no history) - the least any
 * interpreter of the raw definition must do. Run: build/bench/bench_engine
 * [--quick]. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static json_t *pass_chain(int n)
{
    json_t *states = json_object();
    for (int i = 0; i < n; i++) {
        char name[32], next[32];
        snprintf(name, sizeof name, "S%d", i);
        snprintf(next, sizeof next, "S%d", i + 1);
        json_t *s = i + 1 < n ? json_pack("{s:s,s:s}", "Type", "Pass", "Next", next)
                              : json_pack("{s:s,s:b}", "Type", "Pass", "End", 1);
        json_object_set_new(states, name, s);
    }
    return json_pack("{s:s,s:o}", "StartAt", "S0", "States", states);
}

static json_t *map_def(void)
{
    const char *text =
        "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\","
        "\"ItemReader\":{\"Resource\":\"arn:aws:states:::s3:getObject\",\"ReaderConfig\":{\"InputType\":\"JSON\"},"
        "\"Parameters\":{\"Bucket\":\"bench\",\"Key\":\"items.json\"}},"
        "\"ResultWriter\":{\"Resource\":\"arn:aws:states:::s3:putObject\",\"Parameters\":{\"Bucket\":\"bench\",\"Prefix\":\"out\"}},"
        "\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\",\"ExecutionType\":\"EXPRESS\"},"
        "\"StartAt\":\"P\",\"States\":{"
        "\"P\":{\"Type\":\"Pass\",\"Parameters\":{\"v.$\":\"$\"},\"Next\":\"C\"},"
        "\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.v\",\"NumericGreaterThan\":50000,\"Next\":\"Big\"}],\"Default\":\"Small\"},"
        "\"Big\":{\"Type\":\"Pass\",\"Result\":\"big\",\"End\":true},"
        "\"Small\":{\"Type\":\"Pass\",\"Result\":\"small\",\"End\":true}}},\"End\":true}}}";
    return json_loads(text, 0, NULL);
}

/* Answers ItemReader and ResultWriter commands from memory. */
static void shell(asl_exec *e, json_t *items)
{
    asl_cmd *c;
    size_t n;
    while ((n = asl_exec_take_commands(e, &c)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (c[i].type == ASL_CMD_READ_ITEMS) {
                asl_exec_task_succeeded(e, c[i].task_id, items, 0);
            } else if (c[i].type == ASL_CMD_WRITE_RESULTS) {
                size_t got = json_array_size(json_object_get(c[i].input, "Results"));
                json_t *d = json_pack("{s:s,s:s,s:I}", "Bucket", "bench", "Key", "out/manifest.json",
                                      "Results", (json_int_t)got);
                asl_exec_task_succeeded(e, c[i].task_id, d, 0);
                json_decref(d);
            }
            asl_cmd_cleanup(&c[i]);
        }
        free(c);
    }
}

/* Runs m to completion `reps` times; returns transitions per second. */
static double run_engine(const asl_machine *m, json_t *input, json_t *items, int reps,
                         bool history, uint64_t *transitions)
{
    uint64_t total = 0;
    double t0 = now_s();
    for (int r = 0; r < reps; r++) {
        asl_exec_opts o = {.seed = (uint64_t)r, .no_history = !history};
        asl_exec *e = NULL;
        bool ok = asl_exec_new(m, input, &o, &e) == SF_OK && asl_exec_start(e, 0) == SF_OK;
        if (ok && items)
            shell(e, items);
        if (!ok || asl_exec_get_status(e) != ASL_EXEC_SUCCEEDED) {
            fprintf(stderr, "bench: execution did not succeed: %s\n",
                    e && asl_exec_cause(e) ? asl_exec_cause(e) : "?");
            exit(1);
        }
        total += asl_exec_transitions(e);
        asl_exec_destroy(&e);
    }
    double dt = now_s() - t0;
    *transitions = total;
    return (double)total / dt;
}

/* The baseline: follow Next by name through the parsed JSON. */
static double run_naive_chain(json_t *def, int reps)
{
    json_t *states = json_object_get(def, "States");
    uint64_t total = 0;
    double t0 = now_s();
    for (int r = 0; r < reps; r++) {
        const char *cur = json_string_value(json_object_get(def, "StartAt"));
        while (cur) {
            json_t *s = json_object_get(states, cur);
            total++;
            json_t *next = json_object_get(s, "Next");
            cur = next ? json_string_value(next) : NULL;
        }
    }
    return (double)total / (now_s() - t0);
}

static asl_machine *compile(json_t *def)
{
    asl_diag d = {0};
    asl_machine *m = NULL;
    if (asl_machine_compile(def, &m, &d) != SF_OK) {
        fprintf(stderr, "bench: definition refused: %s\n", d.n ? d.msg[0] : "?");
        exit(1);
    }
    asl_diag_clear(&d);
    return m;
}

static void report(const char *what, double rate, double base, double goal)
{
    printf("  %-34s %8.2f M transitions/s  %6.1f ns/transition  %5.2fx baseline  (goal %.0f M/s: %s)\n",
           what, rate / 1e6, 1e9 / rate, rate / base, goal / 1e6, rate >= goal ? "met" : "NOT met");
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    int reps_chain = quick ? 20 : 200, reps_map = quick ? 1 : 5;
    uint64_t tr;

    printf("statefleet engine benchmark (one core, in memory)\n");
    json_t *chain = pass_chain(10000);
    asl_machine *mc = compile(chain);
    json_t *in = json_pack("{s:s}", "hello", "world");
    double base = run_naive_chain(chain, reps_chain);
    printf("(a) 10,000-state Pass chain x %d; baseline (naive walk by name): %.2f M steps/s\n",
           reps_chain, base / 1e6);
    run_engine(mc, in, NULL, 2, true, &tr); /* warm up */
    report("engine, AWS history recorded", run_engine(mc, in, NULL, reps_chain, true, &tr), base, 5e6);
    report("engine, no history", run_engine(mc, in, NULL, reps_chain, false, &tr), base, 5e6);
    json_decref(in);

    json_t *mapd = map_def();
    asl_machine *mm = compile(mapd);
    json_t *items = json_array();
    for (int i = 0; i < 100000; i++)
        json_array_append_new(items, json_integer(i));
    json_t *min = json_object();
    printf("(b) distributed Map over 100,000 items, Pass + Choice + Pass per item, x %d\n", reps_map);
    double mrate = run_engine(mm, min, items, reps_map, true, &tr);
    report("engine", mrate, base, 1e6);
    printf("    %llu transitions per execution\n", (unsigned long long)(tr / (uint64_t)reps_map));
    json_decref(min);
    json_decref(items);
    asl_machine_destroy(&mc);
    asl_machine_destroy(&mm);
    json_decref(chain);
    json_decref(mapd);
    return 0;
}
