/* tests/fuzz/fuzz_worker_task.c - libFuzzer harness for what the worker
 * reads from a task beyond the wire codec: admission (kernel name, the
 * requirements, the input's JSON) and the spin kernel's arguments.
 *
 * Input: one byte choosing the mode, then the rest.
 *   even first byte: the rest is a frame from the coordinator; a task that
 *     decodes goes through wk_admit on a fixed two-node worker, and, when
 *     admitted for spin, its input through wk_spin_args_parse;
 *   odd first byte: the rest is JSON text given to spin as its input, so
 *     the fuzzer need not build a whole frame to reach the parser.
 * Checks the contracts: an admission names a registered kernel, a node
 * that fits and a parsed input; a refusal carries an error name and a
 * cause; spin's arguments are in range whenever they parse. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fleet_msg.h"
#include "worker/agent_admit.h"
#include "worker/kernels_builtin.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void check_spin(json_t *input)
{
    wk_spin_args a;
    asl_err err = {0};
    if (wk_spin_args_parse(input, &a, &err) == SF_OK) {
        check(err.error == NULL);
        check(a.epochs >= 1 && a.epochs <= WK_SPIN_EPOCHS_MAX);
        check(a.duration_ms <= WK_SPIN_DURATION_MAX_MS);
        check(!a.has_fail_at || (a.fail_at >= 0.0 && a.fail_at <= 1.0));
    } else {
        check(err.error && err.error[0] && err.cause && err.cause[0]);
    }
    asl_err_clear(&err);
}

static void admit(const fleet_task *t)
{
    static wk_registry *reg;
    if (!reg) {
        reg = wk_registry_new();
        check(reg && wk_registry_add_builtin(reg, true) == SF_OK);
    }
    const wk_node_slot nodes[2] = {
        {.node = 0, .ncores = 4, .memory_bytes = 1ull << 33, .used_cores = 5, .running = 3},
        {.node = 1, .ncores = 2, .memory_bytes = 0, .gpu = true},
    };
    wk_caps caps = {.worker_id = "fuzz-w",
                    .reg = reg,
                    .nodes = nodes,
                    .n_nodes = 2,
                    .max_tasks = 4,
                    .running = t->attempt % 6, /* sometimes full */
                    .stopping = t->attempt == 99};
    wk_admission ad;
    asl_err err = {0};
    if (wk_admit(&caps, t, &ad, &err) != SF_OK) {
        check(err.error && err.error[0] && err.cause && err.cause[0]);
        asl_err_clear(&err);
        return;
    }
    check(err.error == NULL);
    check(ad.kernel && ad.kernel == wk_registry_find(reg, wk_admit_kernel_field(t)));
    check(ad.input != NULL && ad.slot < 2 && ad.cores >= 1);
    check(ad.cores <= nodes[ad.slot].ncores);
    check(!t->requirements.gpu || nodes[ad.slot].gpu);
    if (ad.kernel == &wk_kernel_spin)
        check_spin(ad.input);
    if (ad.kernel == &wk_kernel_noop) {
        json_t *out = NULL;
        check(wk_kernel_noop.run(NULL, ad.input, &out, &err) == SF_OK && out == ad.input);
        json_decref(out);
    }
    json_decref(ad.input);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        json_t *input = json_loadb((const char *)data + 1, size - 1, JSON_DECODE_ANY, NULL);
        if (input)
            check_spin(input);
        json_decref(input);
        return 0;
    }
    fleet_msg m;
    if (fleet_msg_decode(data + 1, size - 1, &m, NULL, 0) != SF_OK)
        return 0;
    if (m.type == FLEET_TASK)
        admit(&m.u.task);
    fleet_msg_clear(&m);
    return 0;
}
