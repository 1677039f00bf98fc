/* proto/fleet_msg.c - what every fleet message must satisfy, and freeing one.
 *
 * fleet_msg_check is the one statement of the protocol's limits and ranges:
 * the encoder runs it before writing and the decoder after reading, so both
 * sides refuse exactly the same messages. */
#include "fleet_msg.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_wire.h"

sf_rc fleet__fail(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *fleet_msg_type_name(fleet_msg_type type)
{
    switch (type) {
#define FLEET_MSG_NAME(name, wire, from)                                                           \
    case name:                                                                                     \
        return wire;
        FLEET_MSG_LIST(FLEET_MSG_NAME)
#undef FLEET_MSG_NAME
    default:
        return "none";
    }
}

fleet_side fleet_msg_type_sender(fleet_msg_type type)
{
    switch (type) {
#define FLEET_MSG_SENDER(name, wire, from)                                                         \
    case name:                                                                                     \
        return from;
        FLEET_MSG_LIST(FLEET_MSG_SENDER)
#undef FLEET_MSG_SENDER
    default:
        return 0;
    }
}

void fleet_msg_clear(fleet_msg *m)
{
    if (!m)
        return;
    switch (m->type) {
    case FLEET_HELLO:
        free(m->u.hello.worker_id);
        free(m->u.hello.version);
        for (size_t i = 0; m->u.hello.kernels && i < m->u.hello.n_kernels; i++)
            free(m->u.hello.kernels[i]);
        free(m->u.hello.kernels);
        for (size_t i = 0; m->u.hello.gpus && i < m->u.hello.n_gpus; i++)
            free(m->u.hello.gpus[i].name);
        free(m->u.hello.gpus);
        break;
    case FLEET_WELCOME:
        free(m->u.welcome.session_id);
        break;
    case FLEET_REFUSE:
        free(m->u.refuse.reason);
        break;
    case FLEET_TASK:
        free(m->u.task.resource);
        free(m->u.task.kernel);
        free(m->u.task.input);
        break;
    case FLEET_PROGRESS:
        for (size_t i = 0; m->u.progress.metrics && i < m->u.progress.n_metrics; i++)
            free(m->u.progress.metrics[i].name);
        free(m->u.progress.metrics);
        break;
    case FLEET_RESULT:
        free(m->u.result.output);
        break;
    case FLEET_FAILURE:
        free(m->u.failure.error);
        free(m->u.failure.cause);
        break;
    case FLEET_CANCEL:
        free(m->u.cancel.reason);
        break;
    default:
        break;
    }
    memset(m, 0, sizeof *m);
}

/* One string field: present, within max bytes, and non-empty when asked.
 * Strings with NUL bytes cannot be built by the decoder, and a C string
 * cannot hold one, so length is strlen. */
static sf_rc check_str(const char *s, size_t max, bool nonempty, const char *type,
                       const char *field, char *err, size_t errlen)
{
    if (!s)
        return fleet__fail(err, errlen, SF_EINVAL, "%s.%s: missing", type, field);
    size_t n = 0;
    while (n <= max && s[n] != '\0') /* bounded: a caller's string may be huge */
        n++;
    if (n > max)
        return fleet__fail(err, errlen, SF_ELIMIT, "%s.%s: longer than %zu bytes", type, field,
                           max);
    if (nonempty && n == 0)
        return fleet__fail(err, errlen, SF_EINVAL, "%s.%s: empty", type, field);
    return SF_OK;
}

#define CHECK_STR(s, max, nonempty, field)                                                         \
    do {                                                                                           \
        sf_rc rc_ = check_str((s), (max), (nonempty), type, (field), err, errlen);                 \
        if (rc_ != SF_OK)                                                                          \
            return rc_;                                                                            \
    } while (0)

static sf_rc check_hello(const fleet_hello *h, char *err, size_t errlen)
{
    const char *type = "hello";
    CHECK_STR(h->worker_id, FLEET_WORKER_ID_MAX, true, FLEET_KEY_ID);
    CHECK_STR(h->version, FLEET_VERSION_MAX, true, FLEET_KEY_SW_VERSION);
    if (h->n_kernels > FLEET_KERNELS_MAX)
        return fleet__fail(err, errlen, SF_ELIMIT, "hello.%s: more than %u entries",
                           FLEET_KEY_KERNELS, FLEET_KERNELS_MAX);
    if (h->n_kernels && !h->kernels)
        return fleet__fail(err, errlen, SF_EINVAL, "hello.%s: missing", FLEET_KEY_KERNELS);
    for (size_t i = 0; i < h->n_kernels; i++) {
        char field[32];
        snprintf(field, sizeof field, "%s[%zu]", FLEET_KEY_KERNELS, i);
        CHECK_STR(h->kernels[i], FLEET_KERNEL_NAME_MAX, true, field);
    }
    if (h->n_gpus > FLEET_GPUS_MAX)
        return fleet__fail(err, errlen, SF_ELIMIT, "hello.%s: more than %u entries", FLEET_KEY_GPUS,
                           FLEET_GPUS_MAX);
    if (h->n_gpus && !h->gpus)
        return fleet__fail(err, errlen, SF_EINVAL, "hello.%s: missing", FLEET_KEY_GPUS);
    for (size_t i = 0; i < h->n_gpus; i++) {
        char field[32];
        snprintf(field, sizeof field, "%s[%zu].%s", FLEET_KEY_GPUS, i, FLEET_KEY_NAME);
        CHECK_STR(h->gpus[i].name, FLEET_GPU_NAME_MAX, true, field);
    }
    if (h->max_tasks == 0)
        return fleet__fail(err, errlen, SF_EINVAL, "hello.%s: must be at least 1",
                           FLEET_KEY_MAX_TASKS);
    return SF_OK;
}

static sf_rc check_progress(const fleet_progress *p, char *err, size_t errlen)
{
    const char *type = "progress";
    /* Written so that NaN fails too. */
    if (!(p->fraction >= 0.0 && p->fraction <= 1.0))
        return fleet__fail(err, errlen, SF_EINVAL, "progress.%s: must be within 0..1",
                           FLEET_KEY_FRACTION);
    if (p->n_metrics > FLEET_METRICS_MAX)
        return fleet__fail(err, errlen, SF_ELIMIT, "progress.%s: more than %u entries",
                           FLEET_KEY_METRICS, FLEET_METRICS_MAX);
    if (p->n_metrics && !p->metrics)
        return fleet__fail(err, errlen, SF_EINVAL, "progress.%s: missing", FLEET_KEY_METRICS);
    for (size_t i = 0; i < p->n_metrics; i++) {
        char field[32];
        snprintf(field, sizeof field, "%s[%zu]", FLEET_KEY_METRICS, i);
        CHECK_STR(p->metrics[i].name, FLEET_METRIC_NAME_MAX, true, field);
        if (!isfinite(p->metrics[i].value))
            return fleet__fail(err, errlen, SF_EINVAL, "progress.%s.%s: not a finite number",
                               FLEET_KEY_METRICS, p->metrics[i].name);
        /* A map with a repeated key would not survive the trip. */
        for (size_t j = 0; j < i; j++)
            if (strcmp(p->metrics[j].name, p->metrics[i].name) == 0)
                return fleet__fail(err, errlen, SF_EINVAL, "progress.%s.%s: duplicate metric",
                                   FLEET_KEY_METRICS, p->metrics[i].name);
    }
    return SF_OK;
}

sf_rc fleet_msg_check(const fleet_msg *m, char *err, size_t errlen)
{
    if (!m)
        return fleet__fail(err, errlen, SF_EINVAL, "no message");
    const char *type = fleet_msg_type_name(m->type);
    switch (m->type) {
    case FLEET_HELLO:
        return check_hello(&m->u.hello, err, errlen);
    case FLEET_WELCOME:
        CHECK_STR(m->u.welcome.session_id, FLEET_SESSION_ID_MAX, true, FLEET_KEY_SESSION);
        if (m->u.welcome.heartbeat_ms == 0)
            return fleet__fail(err, errlen, SF_EINVAL, "welcome.%s: must be at least 1",
                               FLEET_KEY_HEARTBEAT_MS);
        return SF_OK;
    case FLEET_REFUSE:
        CHECK_STR(m->u.refuse.reason, FLEET_REASON_MAX, false, FLEET_KEY_REASON);
        return SF_OK;
    case FLEET_HEARTBEAT:
        return SF_OK;
    case FLEET_TASK:
        CHECK_STR(m->u.task.resource, FLEET_RESOURCE_MAX, true, FLEET_KEY_RESOURCE);
        CHECK_STR(m->u.task.kernel, FLEET_KERNEL_NAME_MAX, false, FLEET_KEY_KERNELS);
        CHECK_STR(m->u.task.input, FLEET_PAYLOAD_MAX, true, FLEET_KEY_INPUT);
        return SF_OK;
    case FLEET_PROGRESS:
        return check_progress(&m->u.progress, err, errlen);
    case FLEET_RESULT:
        CHECK_STR(m->u.result.output, FLEET_PAYLOAD_MAX, true, FLEET_KEY_OUTPUT);
        return SF_OK;
    case FLEET_FAILURE:
        CHECK_STR(m->u.failure.error, FLEET_ERROR_MAX, true, FLEET_KEY_ERROR);
        CHECK_STR(m->u.failure.cause, FLEET_CAUSE_MAX, false, FLEET_KEY_CAUSE);
        return SF_OK;
    case FLEET_CANCEL:
        CHECK_STR(m->u.cancel.reason, FLEET_REASON_MAX, false, FLEET_KEY_REASON);
        return SF_OK;
    default:
        return fleet__fail(err, errlen, SF_EINVAL, "unknown message type %d", (int)m->type);
    }
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool hello_equal(const fleet_hello *a, const fleet_hello *b)
{
    if (!str_eq(a->worker_id, b->worker_id) || !str_eq(a->version, b->version) ||
        a->n_kernels != b->n_kernels || a->cores != b->cores || a->numa_nodes != b->numa_nodes ||
        a->memory_bytes != b->memory_bytes || a->n_gpus != b->n_gpus ||
        a->max_tasks != b->max_tasks)
        return false;
    for (size_t i = 0; i < a->n_kernels; i++)
        if (!str_eq(a->kernels[i], b->kernels[i]))
            return false;
    for (size_t i = 0; i < a->n_gpus; i++)
        if (!str_eq(a->gpus[i].name, b->gpus[i].name) ||
            a->gpus[i].memory_bytes != b->gpus[i].memory_bytes)
            return false;
    return true;
}

static bool progress_equal(const fleet_progress *a, const fleet_progress *b)
{
    if (a->task_id != b->task_id || a->fraction != b->fraction || a->records != b->records ||
        a->epoch != b->epoch || a->n_metrics != b->n_metrics)
        return false;
    for (size_t i = 0; i < a->n_metrics; i++)
        if (!str_eq(a->metrics[i].name, b->metrics[i].name) ||
            a->metrics[i].value != b->metrics[i].value)
            return false;
    return true;
}

bool fleet_msg_equal(const fleet_msg *a, const fleet_msg *b)
{
    if (!a || !b || a->type != b->type)
        return false;
    switch (a->type) {
    case FLEET_HELLO:
        return hello_equal(&a->u.hello, &b->u.hello);
    case FLEET_WELCOME:
        return a->u.welcome.heartbeat_ms == b->u.welcome.heartbeat_ms &&
               str_eq(a->u.welcome.session_id, b->u.welcome.session_id);
    case FLEET_REFUSE:
        return str_eq(a->u.refuse.reason, b->u.refuse.reason);
    case FLEET_HEARTBEAT:
        return a->u.heartbeat.seq == b->u.heartbeat.seq &&
               a->u.heartbeat.load == b->u.heartbeat.load;
    case FLEET_TASK: {
        const fleet_task *x = &a->u.task, *y = &b->u.task;
        return x->task_id == y->task_id && x->attempt == y->attempt &&
               str_eq(x->resource, y->resource) && str_eq(x->kernel, y->kernel) &&
               str_eq(x->input, y->input) && x->timeout_ms == y->timeout_ms &&
               x->heartbeat_ms == y->heartbeat_ms &&
               x->requirements.cores == y->requirements.cores &&
               x->requirements.memory_bytes == y->requirements.memory_bytes &&
               x->requirements.gpu == y->requirements.gpu;
    }
    case FLEET_PROGRESS:
        return progress_equal(&a->u.progress, &b->u.progress);
    case FLEET_RESULT:
        return a->u.result.task_id == b->u.result.task_id &&
               str_eq(a->u.result.output, b->u.result.output);
    case FLEET_FAILURE:
        return a->u.failure.task_id == b->u.failure.task_id &&
               str_eq(a->u.failure.error, b->u.failure.error) &&
               str_eq(a->u.failure.cause, b->u.failure.cause);
    case FLEET_CANCEL:
        return a->u.cancel.task_id == b->u.cancel.task_id &&
               str_eq(a->u.cancel.reason, b->u.cancel.reason);
    default:
        return true; /* two cleared messages */
    }
}
