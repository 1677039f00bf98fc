/* tests/fuzz/fuzz_exec.c - definitions and inputs all the way through the
 * engine. The input is "DEFINITION\0INPUT" (no NUL: input {}). The harness
 * plays a caller that answers tasks alternately with success and failure,
 * Map reads with a small array, and advances time to each deadline, for a
 * bounded number of rounds. Nothing may crash, hang or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/exec.h"
#include "coordinator/asl/machine.h"

static void answer(asl_exec *e, int64_t now, unsigned *turn)
{
    asl_cmd *c;
    size_t n = asl_exec_take_commands(e, &c);
    for (size_t i = 0; i < n; i++) {
        json_t *v = NULL;
        switch (c[i].type) {
        case ASL_CMD_RUN_TASK:
            if ((*turn)++ % 3 == 2)
                asl_exec_task_failed(e, c[i].task_id, "Fuzz.Error", "fuzz", now);
            else
                asl_exec_task_succeeded(e, c[i].task_id, c[i].input, now);
            break;
        case ASL_CMD_READ_ITEMS:
            v = json_pack("[i,s,{}]", 1, "two");
            asl_exec_task_succeeded(e, c[i].task_id, v, now);
            break;
        case ASL_CMD_WRITE_RESULTS:
            v = json_object();
            asl_exec_task_succeeded(e, c[i].task_id, v, now);
            break;
        case ASL_CMD_CANCEL_TASK:
            break;
        }
        json_decref(v);
        asl_cmd_cleanup(&c[i]);
    }
    free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 65536)
        return 0;
    const uint8_t *nul = memchr(data, 0, size);
    size_t dlen = nul ? (size_t)(nul - data) : size;
    asl_diag d = {0};
    asl_machine *m = NULL;
    sf_rc rc = asl_machine_parse((const char *)data, dlen, &m, &d);
    asl_diag_clear(&d);
    if (rc != SF_OK)
        return 0;
    json_t *input = nul ? json_loadb((const char *)nul + 1, size - dlen - 1, JSON_DECODE_ANY, NULL)
                        : json_object();
    if (!input)
        input = json_object();
    asl_exec_opts o = {.seed = size};
    asl_exec *e = NULL;
    if (asl_exec_new(m, input, &o, &e) == SF_OK) {
        int64_t now = 1000000;
        unsigned turn = 0;
        asl_exec_start(e, now);
        for (int round = 0; round < 200 && asl_exec_get_status(e) == ASL_EXEC_RUNNING; round++) {
            answer(e, now, &turn);
            int64_t next = asl_exec_next_deadline(e);
            if (asl_exec_get_status(e) != ASL_EXEC_RUNNING)
                break;
            now = next == INT64_MAX ? now + 1000 : next;
            asl_exec_tick(e, now);
        }
        answer(e, now, &turn);
        const asl_history *h = asl_exec_history(e);
        for (size_t i = 0; i < h->n; i++)
            json_decref(asl_event_to_json(&h->ev[i], "us-east-1", "arn"));
        asl_exec_destroy(&e);
    }
    json_decref(input);
    asl_machine_destroy(&m);
    return 0;
}
