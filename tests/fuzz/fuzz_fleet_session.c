/* tests/fuzz/fuzz_fleet_session.c - libFuzzer harness for fleet_session.
 *
 * Input: a script of messages, three bytes each (side and type, task id,
 * cancel flag), played into one session after a hello and a welcome. The
 * session keeps its running tasks in a hash table with backward-shift
 * deletion; this checks every accept or refuse against a plain list of
 * the same tasks, so a lost or phantom entry after any sequence of
 * inserts and removals shows up as a disagreement (abort). Task ids are
 * drawn from a small range so that collisions and probe runs are common. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fleet_msg.h"
#include "proto/fleet_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPEN 64

typedef struct model {
    uint64_t ids[MAX_OPEN];
    bool cancelled[MAX_OPEN];
    size_t n;
} model;

static int find(const model *m, uint64_t id)
{
    for (size_t i = 0; i < m->n; i++)
        if (m->ids[i] == id)
            return (int)i;
    return -1;
}

static void drop(model *m, int i)
{
    m->ids[i] = m->ids[m->n - 1];
    m->cancelled[i] = m->cancelled[m->n - 1];
    m->n--;
}

static void check(int ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fleet_session s;
    fleet_session_init(&s);
    char err[256];
    char *kern[] = {"noop"};
    fleet_msg hello = {.type = FLEET_HELLO,
                       .u.hello = {.worker_id = "w",
                                   .version = "1",
                                   .kernels = kern,
                                   .n_kernels = 1,
                                   .cores = 1,
                                   .numa_nodes = 1,
                                   .max_tasks = MAX_OPEN}};
    fleet_msg welcome = {.type = FLEET_WELCOME,
                         .u.welcome = {.heartbeat_ms = 1, .session_id = "s"}};
    check(fleet_session_accept(&s, FLEET_FROM_WORKER, &hello, err, sizeof err) == SF_OK);
    check(fleet_session_accept(&s, FLEET_FROM_COORDINATOR, &welcome, err, sizeof err) == SF_OK);
    model m = {0};
    for (size_t at = 0; at + 3 <= size; at += 3) {
        uint64_t id = data[at + 1] % 97; /* small: collisions and long probe runs */
        int i = find(&m, id);
        fleet_msg msg = {0};
        fleet_side side = FLEET_FROM_WORKER;
        bool want;
        switch (data[at] % 5) {
        case 0: /* task */
            msg = (fleet_msg){.type = FLEET_TASK, .u.task = {.task_id = id}};
            side = FLEET_FROM_COORDINATOR;
            want = i < 0 && m.n < MAX_OPEN;
            break;
        case 1:
            msg = (fleet_msg){.type = FLEET_PROGRESS, .u.progress = {.task_id = id}};
            want = i >= 0;
            break;
        case 2:
            msg = (fleet_msg){.type = FLEET_RESULT, .u.result = {.task_id = id}};
            want = i >= 0;
            break;
        case 3:
            msg = (fleet_msg){.type = FLEET_FAILURE, .u.failure = {.task_id = id}};
            want = i >= 0;
            break;
        default:
            msg = (fleet_msg){.type = FLEET_CANCEL, .u.cancel = {.task_id = id}};
            side = FLEET_FROM_COORDINATOR;
            want = i >= 0 && !m.cancelled[i];
            break;
        }
        sf_rc rc = fleet_session_accept(&s, side, &msg, err, sizeof err);
        check((rc == SF_OK) == want);
        if (rc != SF_OK)
            continue;
        if (msg.type == FLEET_TASK) {
            m.ids[m.n] = id;
            m.cancelled[m.n++] = false;
        } else if (msg.type == FLEET_RESULT || msg.type == FLEET_FAILURE) {
            drop(&m, i);
        } else if (msg.type == FLEET_CANCEL) {
            m.cancelled[i] = true;
        }
        check(s.n_open == m.n);
    }
    fleet_session_cleanup(&s);
    return 0;
}
