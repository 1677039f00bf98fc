/* tests/worker/test_agent.c - the real statefleet-worker against a test
 * ROUTER: registration, tasks, progress, cancellation, timeouts, heartbeats,
 * loss and reconnection, refusal, garbage, capacity and shutdown. */
#include "agent_router.h"

#include <czmq.h>
#include <jansson.h>

#include "common/sf_curve.h"

/* Every test: a worker on a synthetic 2x2-core machine, quiet logs. */
#define WORKER_ID "test-w"

static void start(rt *r)
{
    rt_start(r);
    rt_spawn(r, "--id", WORKER_ID, "--quiet");
}

static bool has_kernel(const fleet_hello *h, const char *name)
{
    for (size_t i = 0; i < h->n_kernels; i++)
        if (strcmp(h->kernels[i], name) == 0)
            return true;
    return false;
}

Test(agent, hello_describes_the_worker)
{
    rt r;
    start(&r);
    fleet_msg h;
    rt_expect(&r, FLEET_HELLO, 10000, &h);
    cr_expect_str_eq(h.u.hello.worker_id, WORKER_ID);
    cr_expect_gt(strlen(h.u.hello.version), 0);
    cr_expect(has_kernel(&h.u.hello, "noop"));
    cr_expect(has_kernel(&h.u.hello, "spin"));
    cr_expect(!has_kernel(&h.u.hello, "lambda"), "lambda without --functions");
    cr_expect_eq(h.u.hello.cores, 4);
    cr_expect_eq(h.u.hello.numa_nodes, 2);
    cr_expect_eq(h.u.hello.max_tasks, 4, "max defaults to the cores served");
    cr_expect_gt(h.u.hello.memory_bytes, 0);
    fleet_msg_clear(&h);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, one_numa_node_serves_its_cores_and_names_itself_after_it)
{
    rt r;
    rt_start(&r);
    rt_spawn(&r, "--numa-node", "1", "--max", "7", "--functions", "/tmp", "--quiet");
    fleet_msg h;
    rt_expect(&r, FLEET_HELLO, 10000, &h);
    cr_expect_eq(h.u.hello.cores, 2);
    cr_expect_eq(h.u.hello.numa_nodes, 1);
    cr_expect_eq(h.u.hello.max_tasks, 7);
    cr_expect(has_kernel(&h.u.hello, "lambda"));
    size_t len = strlen(h.u.hello.worker_id);
    cr_expect(len > 6 && strcmp(h.u.hello.worker_id + len - 6, "-node1") == 0,
              "default id %s should end in -node1", h.u.hello.worker_id);
    fleet_msg_clear(&h);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, noop_answers_with_its_input)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    const char *input = "{\"a\":[1,2,{\"b\":\"c\"}],\"n\":1.5,\"s\":\"\\u00e9\"}";
    rt_task(&r, 7, "noop", input, 0);
    fleet_msg m;
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    cr_expect_eq(m.u.result.task_id, 7);
    json_t *want = json_loads(input, 0, NULL), *got = json_loads(m.u.result.output, 0, NULL);
    cr_expect(json_equal(want, got), "noop answered %s", m.u.result.output);
    json_decref(want);
    json_decref(got);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, noop_answers_a_pipelined_burst_in_full)
{
    rt r;
    rt_start(&r);
    rt_spawn(&r, "--id", WORKER_ID, "--quiet", "--max", "1000");
    rt_handshake(&r, 1000, NULL);
    for (uint64_t id = 1; id <= 1000; id++)
        rt_task(&r, id, "noop", "[1]", 0);
    static bool seen[1001];
    for (int i = 0; i < 1000; i++) {
        fleet_msg m;
        rt_expect(&r, FLEET_RESULT, 5000, &m);
        cr_assert(m.u.result.task_id >= 1 && m.u.result.task_id <= 1000);
        cr_expect(!seen[m.u.result.task_id], "task %llu answered twice",
                  (unsigned long long)m.u.result.task_id);
        seen[m.u.result.task_id] = true;
        fleet_msg_clear(&m);
    }
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, spin_streams_throttled_progress_then_its_result)
{
    rt r;
    rt_start(&r);
    rt_spawn(&r, "--id", WORKER_ID, "--quiet", "--progress-hz", "10");
    rt_handshake(&r, 1000, NULL);
    uint64_t start = rt_now_ms();
    rt_task(&r, 3, "spin", "{\"DurationMs\": 1000, \"Records\": 5000, \"Epochs\": 4}", 0);
    double last = -1;
    int reports = 0;
    bool loss_seen = false;
    fleet_msg m;
    for (;;) {
        cr_assert(rt_recv(&r, &m, 5000), "spin went silent");
        if (m.type == FLEET_RESULT)
            break;
        if (m.type == FLEET_PROGRESS) {
            const fleet_progress *p = &m.u.progress;
            cr_expect_eq(p->task_id, 3);
            cr_expect_gt(p->fraction, last, "fraction went from %g to %g", last, p->fraction);
            cr_expect_leq(p->records, 5000);
            cr_expect(p->epoch >= 1 && p->epoch <= 4);
            for (size_t i = 0; i < p->n_metrics; i++)
                loss_seen |= strcmp(p->metrics[i].name, "train:objective_loss") == 0;
            last = p->fraction;
            reports++;
        }
        fleet_msg_clear(&m);
    }
    uint64_t took = rt_now_ms() - start;
    cr_expect_eq(m.u.result.task_id, 3);
    json_t *out = json_loads(m.u.result.output, 0, NULL);
    cr_expect_eq(json_integer_value(json_object_get(out, "Records")), 5000);
    cr_expect_eq(json_integer_value(json_object_get(out, "Epochs")), 4);
    cr_expect_geq(json_integer_value(json_object_get(out, "ElapsedMs")), 1000);
    json_decref(out);
    fleet_msg_clear(&m);
    cr_expect_geq(took, 1000);
    cr_expect_eq(last, 1.0, "the last report (before the result) says done");
    cr_expect(loss_seen);
    /* 10 a second over about a second, plus the first and the held last */
    cr_expect(reports >= 4 && reports <= 13, "%d reports in %llu ms at 10 Hz", reports,
              (unsigned long long)took);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, cancel_stops_a_spin_fast)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 9, "spin", "{\"DurationMs\": 60000}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_PROGRESS, 5000, &m);
    fleet_msg_clear(&m);
    fleet_msg c = {.type = FLEET_CANCEL};
    c.u.cancel = (fleet_cancel){.task_id = 9, .reason = "the execution was stopped"};
    uint64_t sent = rt_now_ms();
    rt_send(&r, &c);
    for (;;) { /* progress may still be on the wire */
        cr_assert(rt_recv(&r, &m, 2000));
        if (m.type == FLEET_FAILURE)
            break;
        fleet_msg_clear(&m);
    }
    cr_expect_lt(rt_now_ms() - sent, 500);
    cr_expect_eq(m.u.failure.task_id, 9);
    cr_expect_str_eq(m.u.failure.error, "Worker.Cancelled");
    cr_expect(strstr(m.u.failure.cause, "the execution was stopped"), "cause: %s",
              m.u.failure.cause);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, a_task_past_its_timeout_fails_with_states_timeout)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    uint64_t sent = rt_now_ms();
    rt_task(&r, 4, "spin", "{\"DurationMs\": 60000}", 200);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 3000, &m);
    uint64_t took = rt_now_ms() - sent;
    cr_expect(took >= 190 && took < 1000, "timed out after %llu ms", (unsigned long long)took);
    cr_expect_str_eq(m.u.failure.error, "States.Timeout");
    cr_expect(strstr(m.u.failure.cause, "200 ms"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, an_unknown_kernel_fails_naming_it_and_the_known_ones)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 5, "xgboost:train", "{}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_eq(m.u.failure.task_id, 5);
    cr_expect_str_eq(m.u.failure.error, "States.TaskFailed");
    cr_expect(strstr(m.u.failure.cause, "no kernel 'xgboost'"), "cause: %s", m.u.failure.cause);
    cr_expect(strstr(m.u.failure.cause, WORKER_ID), "cause: %s", m.u.failure.cause);
    cr_expect(strstr(m.u.failure.cause, "noop, spin"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, requirements_beyond_the_machine_fail_saying_which)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    fleet_msg t = {.type = FLEET_TASK};
    t.u.task = (fleet_task){.task_id = 1,
                            .resource = "r",
                            .kernel = "spin",
                            .input = "{}",
                            .requirements = {.cores = 3}};
    rt_send(&r, &t);
    t.u.task.task_id = 2;
    t.u.task.requirements = (fleet_requirements){.cores = 1, .gpu = true};
    rt_send(&r, &t);
    t.u.task.task_id = 3;
    t.u.task.input = "{not json";
    t.u.task.requirements = (fleet_requirements){.cores = 2};
    rt_send(&r, &t);
    const char *want[] = {"needs 3 cores", "needs a GPU", "not JSON"};
    for (int i = 0; i < 3; i++) {
        fleet_msg m;
        rt_expect(&r, FLEET_FAILURE, 5000, &m);
        cr_expect_eq(m.u.failure.task_id, (uint64_t)i + 1);
        cr_expect(strstr(m.u.failure.cause, want[i]), "cause: %s", m.u.failure.cause);
        fleet_msg_clear(&m);
    }
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, a_bad_spin_input_fails_naming_the_field)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 1, "spin", "{\"DurationMs\": \"soon\"}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect(strstr(m.u.failure.cause, "DurationMs"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    rt_task(&r, 2, "spin", "{\"DurationMs\": 50, \"FailAt\": 0.5}", 0);
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_str_eq(m.u.failure.error, "Spin.InjectedFailure");
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, heartbeats_come_every_period_with_increasing_seq)
{
    rt r;
    start(&r);
    rt_handshake(&r, 50, NULL);
    uint64_t first = 0, last_seq = 0;
    for (int i = 0; i < 6; i++) {
        fleet_msg m;
        rt_expect(&r, FLEET_HEARTBEAT, 1000, &m);
        if (i == 0)
            first = rt_now_ms();
        else
            cr_expect_gt(m.u.heartbeat.seq, last_seq);
        last_seq = m.u.heartbeat.seq;
        cr_expect_eq(m.u.heartbeat.load, 0);
        fleet_msg_clear(&m);
    }
    uint64_t span = rt_now_ms() - first;
    cr_expect(span >= 200 && span < 1000, "5 periods of 50 ms took %llu ms",
              (unsigned long long)span);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, a_silent_coordinator_is_lost_and_greeted_again)
{
    rt r;
    start(&r);
    rt_handshake(&r, 100, NULL);
    rt_task(&r, 1, "spin", "{\"DurationMs\": 60000}", 0); /* to be orphaned */
    fleet_msg m;
    rt_expect(&r, FLEET_PROGRESS, 5000, &m);
    fleet_msg_clear(&m);
    unsigned char first_peer[256];
    size_t first_len = r.peer_len;
    memcpy(first_peer, r.peer, first_len);
    r.keepalive = false; /* from now on the coordinator says nothing */
    uint64_t silent_since = rt_now_ms();
    for (;;) {
        cr_assert(rt_recv(&r, &m, 3000), "no new hello after the coordinator fell silent");
        if (m.type == FLEET_HELLO)
            break;
        cr_expect(m.type == FLEET_HEARTBEAT || m.type == FLEET_PROGRESS, "got a %s",
                  fleet_msg_type_name(m.type));
        fleet_msg_clear(&m);
    }
    uint64_t after = rt_now_ms() - silent_since;
    cr_expect(after >= 250 && after < 1500, "new hello %llu ms after the last word",
              (unsigned long long)after);
    cr_expect(r.peer_len != first_len || memcmp(r.peer, first_peer, first_len) != 0,
              "the new hello comes from a new socket");
    fleet_msg_clear(&m);
    /* The new session works, and the orphaned spin (cancelled, answered
     * to no one) does not leak into it, even though id 1 is reused. */
    r.keepalive = true;
    rt_welcome(&r, 1000);
    rt_task(&r, 1, "noop", "1", 0);
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    cr_expect_eq(m.u.result.task_id, 1);
    fleet_msg_clear(&m);
    rt_task(&r, 2, "noop", "2", 0);
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    cr_expect_eq(m.u.result.task_id, 2);
    fleet_msg_clear(&m);
    fleet_msg hb;
    rt_expect(&r, FLEET_HEARTBEAT, 3000, &hb);
    cr_expect_eq(hb.u.heartbeat.load, 0, "the orphan is not this session's load");
    fleet_msg_clear(&hb);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, a_refused_worker_exits_3_and_says_why)
{
    rt r;
    rt_start(&r);
    rt_spawn(&r, "--id", WORKER_ID);
    fleet_msg h;
    rt_expect(&r, FLEET_HELLO, 10000, &h);
    fleet_msg_clear(&h);
    fleet_msg no = {.type = FLEET_REFUSE};
    no.u.refuse.reason = "worker test-w is not in the fleet's allow list";
    rt_send(&r, &no);
    cr_assert(rt_wait_exit(&r, 3000), "the worker kept running after a refuse");
    cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "status %d", r.status);
    cr_expect(rt_log_has(&r, "not in the fleet's allow list"));
    rt_stop(&r);
}

Test(agent, garbage_and_out_of_order_frames_are_dropped)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    rt_send_bytes(&r, "\xc1\xff\x00 not msgpack", 15);
    rt_send_bytes(&r, "", 0);
    rt_send_bytes(&r, "\x81\xa1v\x02", 4); /* {v: 2}: another version, no type */
    rt_welcome(&r, 1000);                  /* a second welcome: out of order */
    fleet_msg c = {.type = FLEET_CANCEL};  /* a task that never ran */
    c.u.cancel = (fleet_cancel){.task_id = 77, .reason = "x"};
    rt_send(&r, &c);
    rt_task(&r, 2, "noop", "\"still here\"", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    cr_expect_str_eq(m.u.result.output, "\"still here\"");
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, a_task_beyond_max_is_answered_at_capacity)
{
    rt r;
    rt_start(&r);
    rt_spawn(&r, "--id", WORKER_ID, "--quiet", "--max", "1");
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 1, "spin", "{\"DurationMs\": 60000}", 0);
    rt_task(&r, 2, "noop", "{}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_FAILURE, 5000, &m);
    cr_expect_eq(m.u.failure.task_id, 2);
    cr_expect(strstr(m.u.failure.cause, "worker at capacity"), "cause: %s", m.u.failure.cause);
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
}

Test(agent, sigterm_cancels_running_tasks_answers_them_and_exits_0)
{
    rt r;
    start(&r);
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 1, "spin", "{\"DurationMs\": 60000}", 0);
    rt_task(&r, 2, "spin", "{\"DurationMs\": 60000}", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_PROGRESS, 5000, &m);
    fleet_msg_clear(&m);
    kill(r.pid, SIGTERM);
    int failures = 0;
    while (failures < 2) {
        cr_assert(rt_recv(&r, &m, 3000), "running tasks were not answered on SIGTERM");
        if (m.type == FLEET_FAILURE) {
            cr_expect_str_eq(m.u.failure.error, "Worker.Cancelled");
            cr_expect(strstr(m.u.failure.cause, "shutting down"), "cause: %s", m.u.failure.cause);
            failures++;
        }
        fleet_msg_clear(&m);
    }
    cr_assert(rt_wait_exit(&r, 5000));
    cr_expect(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0, "status %d", r.status);
    rt_stop(&r);
}

Test(agent, bad_flags_exit_2_naming_the_flag)
{
    const char *cases[][3] = {{"--max", "lots", "--max"},
                              {"--progress-hz", "-1", "--progress-hz"},
                              {"--numa-node", "9", "--numa-node"},
                              {"--key", "/nonexistent", "--server-key"},
                              {"--frobnicate", "", "--frobnicate"}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "%s --coordinator tcp://127.0.0.1:1 --topology '" RT_TOPOLOGY
                 "' %s %s 2>&1 >/dev/null",
                 SF_WORKER_BIN, cases[i][0], cases[i][1]);
        FILE *p = popen(cmd, "r");
        cr_assert_not_null(p);
        char out[2048] = "";
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = '\0';
        int status = pclose(p);
        cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 2, "%s %s: status %d", cases[i][0],
                  cases[i][1], status);
        cr_expect(strstr(out, cases[i][2]), "%s %s said: %s", cases[i][0], cases[i][1], out);
    }
}

Test(agent, talks_curve_with_both_keys)
{
    /* Keys made the way operators make them, in a scratch directory. */
    char dir[] = "/tmp/sf-agent-keys-XXXXXX", worker_key[128], server_key[128], secret[160];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(worker_key, sizeof worker_key, "%s/worker", dir);
    snprintf(server_key, sizeof server_key, "%s/server", dir);
    snprintf(secret, sizeof secret, "%s_secret", server_key);
    char err[256];
    cr_assert_eq(sf_curve_keygen(worker_key, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(sf_curve_keygen(server_key, err, sizeof err), SF_OK, "%s", err);
    zcert_t *server = NULL;
    cr_assert_eq(sf_curve_load_secret(secret, &server, err, sizeof err), SF_OK, "%s", err);
    rt r;
    rt_start_with(&r, zcert_secret_key(server));
    zcert_destroy(&server);
    char worker_secret[160];
    snprintf(worker_secret, sizeof worker_secret, "%s_secret", worker_key);
    rt_spawn(&r, "--id", WORKER_ID, "--quiet", "--key", worker_secret, "--server-key", server_key);
    rt_handshake(&r, 1000, NULL);
    rt_task(&r, 1, "noop", "\"sealed\"", 0);
    fleet_msg m;
    rt_expect(&r, FLEET_RESULT, 5000, &m);
    cr_expect_str_eq(m.u.result.output, "\"sealed\"");
    fleet_msg_clear(&m);
    cr_expect_eq(rt_stop(&r), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_expect_eq(system(cmd), 0);
}
