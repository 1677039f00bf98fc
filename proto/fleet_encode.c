/* proto/fleet_encode.c - a fleet_msg as one msgpack map.
 *
 * Writes every field, optional or not, so that decode(encode(m)) equals m.
 * Never writes a message fleet_msg_check refuses. */
#include <string.h>

#include "fleet_msg.h"
#include "fleet_wire.h"

/* msgpack-c's packers return -1 when the buffer cannot grow; errors are
 * collected in one flag and looked at once, after the last write, because
 * nothing written after a failure can matter. */
typedef struct {
    msgpack_packer pk;
    int failed;
} writer;

static void put_key(writer *w, const char *key)
{
    w->failed |= msgpack_pack_str_with_body(&w->pk, key, strlen(key));
}

static void put_str(writer *w, const char *key, const char *value)
{
    put_key(w, key);
    w->failed |= msgpack_pack_str_with_body(&w->pk, value, strlen(value));
}

static void put_uint(writer *w, const char *key, uint64_t value)
{
    put_key(w, key);
    w->failed |= msgpack_pack_uint64(&w->pk, value);
}

static void put_double(writer *w, const char *key, double value)
{
    put_key(w, key);
    w->failed |= msgpack_pack_double(&w->pk, value);
}

static void put_hello(writer *w, const fleet_hello *h)
{
    put_str(w, FLEET_KEY_ID, h->worker_id);
    put_str(w, FLEET_KEY_SW_VERSION, h->version);
    put_key(w, FLEET_KEY_KERNELS);
    w->failed |= msgpack_pack_array(&w->pk, h->n_kernels);
    for (size_t i = 0; i < h->n_kernels; i++)
        w->failed |= msgpack_pack_str_with_body(&w->pk, h->kernels[i], strlen(h->kernels[i]));
    put_uint(w, FLEET_KEY_CORES, h->cores);
    put_uint(w, FLEET_KEY_NUMA, h->numa_nodes);
    put_uint(w, FLEET_KEY_MEMORY, h->memory_bytes);
    put_key(w, FLEET_KEY_GPUS);
    w->failed |= msgpack_pack_array(&w->pk, h->n_gpus);
    for (size_t i = 0; i < h->n_gpus; i++) {
        w->failed |= msgpack_pack_map(&w->pk, 2);
        put_str(w, FLEET_KEY_NAME, h->gpus[i].name);
        put_uint(w, FLEET_KEY_MEMORY, h->gpus[i].memory_bytes);
    }
    put_uint(w, FLEET_KEY_MAX_TASKS, h->max_tasks);
}

static void put_task(writer *w, const fleet_task *t)
{
    put_uint(w, FLEET_KEY_ID, t->task_id);
    put_uint(w, FLEET_KEY_ATTEMPT, t->attempt);
    put_str(w, FLEET_KEY_RESOURCE, t->resource);
    put_str(w, FLEET_KEY_KERNELS, t->kernel);
    put_str(w, FLEET_KEY_INPUT, t->input);
    put_uint(w, FLEET_KEY_TIMEOUT_MS, t->timeout_ms);
    put_uint(w, FLEET_KEY_HEARTBEAT_MS, t->heartbeat_ms);
    put_key(w, FLEET_KEY_REQUIREMENTS);
    w->failed |= msgpack_pack_map(&w->pk, 3);
    put_uint(w, FLEET_KEY_CORES, t->requirements.cores);
    put_uint(w, FLEET_KEY_MEMORY, t->requirements.memory_bytes);
    put_key(w, FLEET_KEY_GPU);
    w->failed |= t->requirements.gpu ? msgpack_pack_true(&w->pk) : msgpack_pack_false(&w->pk);
}

static void put_progress(writer *w, const fleet_progress *p)
{
    put_uint(w, FLEET_KEY_ID, p->task_id);
    put_double(w, FLEET_KEY_FRACTION, p->fraction);
    put_uint(w, FLEET_KEY_RECORDS, p->records);
    put_uint(w, FLEET_KEY_EPOCH, p->epoch);
    put_key(w, FLEET_KEY_METRICS);
    w->failed |= msgpack_pack_map(&w->pk, p->n_metrics);
    for (size_t i = 0; i < p->n_metrics; i++)
        put_double(w, p->metrics[i].name, p->metrics[i].value);
}

/* The number of fields after "v" and "t", so the map header is exact. */
static size_t field_count(fleet_msg_type type)
{
    switch (type) {
    case FLEET_HELLO:
        return 8;
    case FLEET_WELCOME:
        return 2;
    case FLEET_REFUSE:
        return 1;
    case FLEET_HEARTBEAT:
        return 2;
    case FLEET_TASK:
        return 8;
    case FLEET_PROGRESS:
        return 5;
    case FLEET_RESULT:
        return 2;
    case FLEET_FAILURE:
        return 3;
    case FLEET_CANCEL:
        return 2;
    default:
        return 0;
    }
}

sf_rc fleet_msg_encode(const fleet_msg *m, msgpack_sbuffer *out)
{
    if (!out)
        return SF_EINVAL;
    sf_rc rc = fleet_msg_check(m, NULL, 0);
    if (rc != SF_OK)
        return rc;
    size_t start = out->size;
    writer w = {.failed = 0};
    msgpack_packer_init(&w.pk, out, msgpack_sbuffer_write);
    w.failed |= msgpack_pack_map(&w.pk, 2 + field_count(m->type));
    put_uint(&w, FLEET_KEY_VERSION, FLEET_PROTO_VERSION);
    put_str(&w, FLEET_KEY_TYPE, fleet_msg_type_name(m->type));
    switch (m->type) {
    case FLEET_HELLO:
        put_hello(&w, &m->u.hello);
        break;
    case FLEET_WELCOME:
        put_uint(&w, FLEET_KEY_HEARTBEAT_MS, m->u.welcome.heartbeat_ms);
        put_str(&w, FLEET_KEY_SESSION, m->u.welcome.session_id);
        break;
    case FLEET_REFUSE:
        put_str(&w, FLEET_KEY_REASON, m->u.refuse.reason);
        break;
    case FLEET_HEARTBEAT:
        put_uint(&w, FLEET_KEY_SEQ, m->u.heartbeat.seq);
        put_uint(&w, FLEET_KEY_LOAD, m->u.heartbeat.load);
        break;
    case FLEET_TASK:
        put_task(&w, &m->u.task);
        break;
    case FLEET_PROGRESS:
        put_progress(&w, &m->u.progress);
        break;
    case FLEET_RESULT:
        put_uint(&w, FLEET_KEY_ID, m->u.result.task_id);
        put_str(&w, FLEET_KEY_OUTPUT, m->u.result.output);
        break;
    case FLEET_FAILURE:
        put_uint(&w, FLEET_KEY_ID, m->u.failure.task_id);
        put_str(&w, FLEET_KEY_ERROR, m->u.failure.error);
        put_str(&w, FLEET_KEY_CAUSE, m->u.failure.cause);
        break;
    case FLEET_CANCEL:
        put_uint(&w, FLEET_KEY_ID, m->u.cancel.task_id);
        put_str(&w, FLEET_KEY_REASON, m->u.cancel.reason);
        break;
    default:
        break;
    }
    /* The check bounds every field, so this holds unless the limits above
     * are raised past the frame; keep the frame promise regardless. */
    if (!w.failed && out->size - start > FLEET_FRAME_MAX)
        rc = SF_ELIMIT;
    else if (w.failed)
        rc = SF_ENOMEM;
    if (rc != SF_OK)
        out->size = start;
    return rc;
}
