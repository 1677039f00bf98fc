/* bench/bench_durable.c - durable state transitions per second.
 *
 * Runs the coordinator's service in-process on a fresh SQLite file
 * (synchronous=FULL unless --sync says otherwise) with N concurrent
 * executions of a loop whose every iteration passes a Wait of 0 seconds,
 * so the executions interleave through the timer and each iteration is
 * committed on its own, as a real workflow's steps are. Beside it, in the
 * same run and on the same disk, the raw SQLite figures: single-row
 * commits per second (what one fsync costs) and rows per second inside
 * one transaction (the ceiling for writing events).
 *
 *   bench_durable [--executions N] [--iterations K] [--dir DIR] [--sync FULL|NORMAL|OFF]
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../coordinator/service/service.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *sync_sql(store_sync s)
{
    return s == STORE_SYNC_FULL ? "FULL" : s == STORE_SYNC_NORMAL ? "NORMAL" : "OFF";
}

/* Single-row transactions for about a second: the disk's commit rate. */
static double raw_commits(const char *path, store_sync sync, double *rows_per_s)
{
    sqlite3 *db;
    unlink(path);
    if (sqlite3_open(path, &db) != SQLITE_OK)
        return 0;
    char pragma[64];
    snprintf(pragma, sizeof pragma, "PRAGMA synchronous=%s", sync_sql(sync));
    sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
    sqlite3_exec(db, pragma, NULL, NULL, NULL);
    sqlite3_exec(db, "CREATE TABLE t(a INTEGER, b INTEGER, body TEXT, PRIMARY KEY(a,b)) WITHOUT ROWID",
                 NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(db, "INSERT INTO t VALUES(?,?,?)", -1, &ins, NULL);
    const char *body = "{\"id\":2,\"previousEventId\":1,\"timestamp\":1795565437.838,"
                       "\"type\":\"PassStateEntered\",\"stateEnteredEventDetails\":"
                       "{\"name\":\"Loop\",\"input\":\"{\\\"i\\\":1}\"}}";
    long n = 0;
    double t0 = now_s();
    while (now_s() - t0 < 1.0) {
        sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
        sqlite3_bind_int64(ins, 1, 1);
        sqlite3_bind_int64(ins, 2, n);
        sqlite3_bind_text(ins, 3, body, -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
        sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
        n++;
    }
    double commits = (double)n / (now_s() - t0);
    /* Bulk: 200,000 rows in one transaction. */
    t0 = now_s();
    sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
    for (long i = 0; i < 200000; i++) {
        sqlite3_bind_int64(ins, 1, 2 + i / 1000);
        sqlite3_bind_int64(ins, 2, i % 1000);
        sqlite3_bind_text(ins, 3, body, -1, SQLITE_STATIC);
        sqlite3_step(ins);
        sqlite3_reset(ins);
    }
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    *rows_per_s = 200000.0 / (now_s() - t0);
    sqlite3_finalize(ins);
    sqlite3_close(db);
    return commits;
}

typedef struct starter {
    svc *s;
    const char *sm_arn;
    int from, to;
    int failures;
} starter;

static void *start_some(void *arg)
{
    starter *st = arg;
    for (int i = st->from; i < st->to; i++) {
        char name[32];
        snprintf(name, sizeof name, "x%d", i);
        json_t *req = json_pack("{s:s,s:s,s:s}", "stateMachineArn", st->sm_arn, "name", name,
                                "input", "{}");
        json_t *resp = NULL;
        if (svc_call(st->s, "StartExecution", req, &resp) != 200)
            st->failures++;
        json_decref(req);
        json_decref(resp);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int executions = 1000, iterations = 100;
    const char *dir = "/tmp";
    store_sync sync = STORE_SYNC_FULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--executions") == 0)
            executions = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--iterations") == 0)
            iterations = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            dir = argv[i + 1];
        else if (strcmp(argv[i], "--sync") == 0)
            sync = strcmp(argv[i + 1], "OFF") == 0      ? STORE_SYNC_OFF
                   : strcmp(argv[i + 1], "NORMAL") == 0 ? STORE_SYNC_NORMAL
                                                        : STORE_SYNC_FULL;
    }
    char raw_path[4096], db_path[4096];
    snprintf(raw_path, sizeof raw_path, "%s/bench_durable_raw.%d.db", dir, (int)getpid());
    snprintf(db_path, sizeof db_path, "%s/bench_durable.%d.db", dir, (int)getpid());

    double bulk_rows = 0;
    double raw = raw_commits(raw_path, sync, &bulk_rows);
    printf("raw SQLite (WAL, synchronous=%s): %.0f single-row commits/s (fsyncs/s), "
           "%.0f rows/s in one transaction\n",
           sync_sql(sync), raw, bulk_rows);

    svc_config cfg = {.db_path = db_path, .sync = sync, .quiet = true};
    svc *s;
    char err[512];
    unlink(db_path);
    if (svc_open(&cfg, &s, err, sizeof err) != SF_OK) {
        fprintf(stderr, "bench_durable: %s\n", err);
        return 1;
    }
    char def[1024];
    snprintf(def, sizeof def,
             "{\"StartAt\":\"Init\",\"States\":{"
             "\"Init\":{\"Type\":\"Pass\",\"Result\":{\"i\":0},\"Next\":\"Loop\"},"
             "\"Loop\":{\"Type\":\"Pass\",\"Parameters\":{\"i.$\":\"States.MathAdd($.i, 1)\"},"
             "\"Next\":\"Check\"},"
             "\"Check\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.i\","
             "\"NumericLessThan\":%d,\"Next\":\"Yield\"}],\"Default\":\"Done\"},"
             "\"Yield\":{\"Type\":\"Wait\",\"Seconds\":0,\"Next\":\"Loop\"},"
             "\"Done\":{\"Type\":\"Succeed\"}}}",
             iterations);
    json_t *req = json_pack("{s:s,s:s,s:s}", "name", "bench", "definition", def, "roleArn",
                            "arn:aws:iam::123456789012:role/bench");
    json_t *resp = NULL;
    if (svc_call(s, "CreateStateMachine", req, &resp) != 200) {
        fprintf(stderr, "bench_durable: CreateStateMachine: %s\n",
                json_string_value(json_object_get(resp, "message")));
        return 1;
    }
    char sm_arn[512];
    snprintf(sm_arn, sizeof sm_arn, "%s", json_string_value(json_object_get(resp, "stateMachineArn")));
    json_decref(req);
    json_decref(resp);

    svc_stats before, after;
    svc_get_stats(s, &before);
    double t0 = now_s();
    enum { STARTERS = 16 };
    pthread_t th[STARTERS];
    starter st[STARTERS];
    for (int i = 0; i < STARTERS; i++) {
        st[i] = (starter){.s = s, .sm_arn = sm_arn, .from = executions * i / STARTERS,
                          .to = executions * (i + 1) / STARTERS};
        pthread_create(&th[i], NULL, start_some, &st[i]);
    }
    int failures = 0;
    for (int i = 0; i < STARTERS; i++) {
        pthread_join(th[i], NULL);
        failures += st[i].failures;
    }
    do {
        usleep(2000);
        svc_get_stats(s, &after);
    } while (after.running > 0);
    double secs = now_s() - t0;
    uint64_t transitions = after.transitions - before.transitions;
    uint64_t commits = after.commits - before.commits;
    uint64_t events = after.events - before.events;
    printf("coordinator: %d executions x %d iterations (Wait 0 each), synchronous=%s\n",
           executions, iterations, sync_sql(sync));
    printf("  %.0f durable state transitions/s (%llu in %.2f s), %.0f history events/s\n",
           (double)transitions / secs, (unsigned long long)transitions, secs,
           (double)events / secs);
    printf("  %.0f commits/s (fsyncs/s), %.1f transitions per commit; raw single-row commit rate "
           "%.0f/s: group commit gives %.1fx the transitions of one-commit-per-transition\n",
           (double)commits / secs, commits ? (double)transitions / (double)commits : 0.0, raw,
           raw > 0 ? (double)transitions / secs / raw : 0.0);
    if (failures)
        printf("  %d StartExecution calls failed\n", failures);
    svc_close(&s);
    unlink(db_path);
    unlink(raw_path);
    char side[4200];
    snprintf(side, sizeof side, "%s-wal", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", db_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-wal", raw_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", raw_path);
    unlink(side);
    return failures ? 1 : 0;
}
