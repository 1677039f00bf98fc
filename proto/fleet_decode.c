/* proto/fleet_decode.c - bytes from a peer into a fleet_msg, or a refusal.
 *
 * Three passes, each trusting only what the one before proved:
 *   1. scan: walks the raw bytes without allocating, proving the frame is
 *      one well-formed msgpack value, within FLEET_FRAME_MAX and
 *      FLEET_DEPTH_MAX, with no trailing bytes. msgpack-c sizes an array by
 *      its declared count before reading a single element, so five hostile
 *      bytes could ask it for gigabytes; after the scan every declared count
 *      is known to fit in the bytes that remain.
 *   2. msgpack_unpack: builds the object tree in the thread's zone.
 *   3. fields: checks each field's type before touching it, copies it into
 *      owned memory, then fleet_msg_check applies the limits and ranges.
 * Must never read outside [bytes, bytes + len) nor trust a length field. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fleet_msg.h"
#include "fleet_wire.h"

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    char *err;
    size_t errlen;
} scanner;

static uint64_t read_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | p[i];
    return v;
}

/* Moves past n bytes, or fails when fewer remain. */
static sf_rc skip(scanner *s, uint64_t n)
{
    if (n > s->len - s->pos)
        return fleet__fail(s->err, s->errlen, SF_EINVAL,
                           "truncated: a value at byte %zu runs past the end", s->pos);
    s->pos += (size_t)n;
    return SF_OK;
}

/* Reads an n-byte big-endian length or count at the current position. */
static sf_rc read_len(scanner *s, size_t n, uint64_t *out)
{
    if (n > s->len - s->pos)
        return fleet__fail(s->err, s->errlen, SF_EINVAL,
                           "truncated: a length at byte %zu runs past the end", s->pos);
    *out = read_be(s->p + s->pos, n);
    s->pos += n;
    return SF_OK;
}

static sf_rc scan_value(scanner *s, unsigned parent_level);

/* A container of n children: each takes at least one byte, so a count
 * larger than what remains is refused before anything is allocated. */
static sf_rc scan_children(scanner *s, uint64_t n, unsigned level, size_t at)
{
    if (level > FLEET_DEPTH_MAX)
        return fleet__fail(s->err, s->errlen, SF_ELIMIT,
                           "nesting deeper than %u levels at byte %zu", FLEET_DEPTH_MAX, at);
    if (n > s->len - s->pos)
        return fleet__fail(s->err, s->errlen, SF_EINVAL,
                           "truncated: %llu elements declared at byte %zu, fewer bytes remain",
                           (unsigned long long)n, s->pos);
    for (uint64_t i = 0; i < n; i++) {
        sf_rc rc = scan_value(s, level);
        if (rc != SF_OK)
            return rc;
    }
    return SF_OK;
}

/* parent_level is the nesting level of the container holding the value:
 * 0 for the message itself, whose map is level 1. */
static sf_rc scan_value(scanner *s, unsigned parent_level)
{
    if (s->pos >= s->len)
        return fleet__fail(s->err, s->errlen, SF_EINVAL, "truncated: a value expected at byte %zu",
                           s->pos);
    size_t at = s->pos;
    uint8_t b = s->p[s->pos++];
    uint64_t n = 0;
    sf_rc rc = SF_OK;
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        return SF_OK; /* fixints, nil, booleans */
    if ((b & 0xf0) == 0x80)
        return scan_children(s, 2u * (b & 0x0fu), parent_level + 1, at);
    if ((b & 0xf0) == 0x90)
        return scan_children(s, b & 0x0fu, parent_level + 1, at);
    if ((b & 0xe0) == 0xa0)
        return skip(s, b & 0x1fu);
    switch (b) {
    case 0xc4:
    case 0xc5:
    case 0xc6: /* bin 8/16/32 */
    case 0xd9:
    case 0xda:
    case 0xdb: /* str 8/16/32 */
        rc = read_len(s, (b == 0xc4 || b == 0xd9) ? 1 : (b == 0xc5 || b == 0xda) ? 2 : 4, &n);
        return rc != SF_OK ? rc : skip(s, n);
    case 0xc7:
    case 0xc8:
    case 0xc9: /* ext 8/16/32: length, then a type byte */
        rc = read_len(s, b == 0xc7 ? 1 : b == 0xc8 ? 2 : 4, &n);
        return rc != SF_OK ? rc : skip(s, n + 1);
    case 0xca:
        return skip(s, 4);
    case 0xcb:
        return skip(s, 8);
    case 0xcc:
    case 0xd0:
        return skip(s, 1);
    case 0xcd:
    case 0xd1:
        return skip(s, 2);
    case 0xce:
    case 0xd2:
        return skip(s, 4);
    case 0xcf:
    case 0xd3:
        return skip(s, 8);
    case 0xd4:
        return skip(s, 2); /* fixext: type byte and 1..16 bytes */
    case 0xd5:
        return skip(s, 3);
    case 0xd6:
        return skip(s, 5);
    case 0xd7:
        return skip(s, 9);
    case 0xd8:
        return skip(s, 17);
    case 0xdc:
    case 0xdd:
        rc = read_len(s, b == 0xdc ? 2 : 4, &n);
        return rc != SF_OK ? rc : scan_children(s, n, parent_level + 1, at);
    case 0xde:
    case 0xdf:
        rc = read_len(s, b == 0xde ? 2 : 4, &n);
        return rc != SF_OK ? rc : scan_children(s, 2 * n, parent_level + 1, at);
    default: /* 0xc1 is the one byte msgpack never uses */
        return fleet__fail(s->err, s->errlen, SF_EINVAL, "byte %zu: 0x%02x is not a msgpack type",
                           at, b);
    }
}

static sf_rc scan_frame(const void *bytes, size_t len, char *err, size_t errlen)
{
    if (len == 0)
        return fleet__fail(err, errlen, SF_EINVAL, "empty frame");
    if (len > FLEET_FRAME_MAX)
        return fleet__fail(err, errlen, SF_ELIMIT, "frame of %zu bytes, over the %u byte limit",
                           len, FLEET_FRAME_MAX);
    scanner s = {.p = bytes, .len = len, .pos = 0, .err = err, .errlen = errlen};
    sf_rc rc = scan_value(&s, 0);
    if (rc != SF_OK)
        return rc;
    if (s.pos != len)
        return fleet__fail(err, errlen, SF_EINVAL, "%zu trailing bytes after the message",
                           len - s.pos);
    return SF_OK;
}

/* --- fields ---------------------------------------------------------- */

typedef struct {
    char *err;
    size_t errlen;
} diag;

static const char *kind_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "a boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        return "an unsigned integer";
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "a negative integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "a float";
    case MSGPACK_OBJECT_STR:
        return "a string";
    case MSGPACK_OBJECT_ARRAY:
        return "an array";
    case MSGPACK_OBJECT_MAP:
        return "a map";
    case MSGPACK_OBJECT_BIN:
        return "binary";
    case MSGPACK_OBJECT_EXT:
        return "an extension";
    default:
        return "an unknown kind";
    }
}

static sf_rc wrong_kind(diag *d, const char *where, const char *key, const char *want,
                        const msgpack_object *o)
{
    return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s.%s: expected %s, got %s", where, key, want,
                       kind_name(o->type));
}

/* msgpack-c leaves an empty string's pointer NULL, and memcmp may not be
 * handed NULL even for zero bytes. */
static bool same_str(const msgpack_object_str *a, const char *b, size_t n)
{
    return a->size == n && (n == 0 || memcmp(a->ptr, b, n) == 0);
}

static bool key_is(const msgpack_object *k, const char *key)
{
    return same_str(&k->via.str, key, strlen(key));
}

/* A map standing for a struct (at where, or where.sub when sub is not
 * NULL): string keys, none twice, at most FLEET_FIELDS_MAX of them. Keys
 * nobody knows are allowed (and skipped). The path is only spelt out when
 * something is wrong: building it for every message cost more than the
 * checks. */
static sf_rc check_struct_map(diag *d, const char *where, const char *sub,
                              const msgpack_object_map *m)
{
    const char *dot = sub ? "." : "";
    sub = sub ? sub : "";
    if (m->size > FLEET_FIELDS_MAX)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "%s%s%s: more than %u fields", where, dot,
                           sub, FLEET_FIELDS_MAX);
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key;
        if (k->type != MSGPACK_OBJECT_STR)
            return fleet__fail(d->err, d->errlen, SF_EINVAL,
                               "%s%s%s: a field name is %s, not a string", where, dot, sub,
                               kind_name(k->type));
        for (uint32_t j = 0; j < i; j++)
            if (same_str(&m->ptr[j].key.via.str, k->via.str.ptr, k->via.str.size))
                return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s%s%s.%.*s: field appears twice",
                                   where, dot, sub,
                                   (int)(k->via.str.size > 64 ? 64 : k->via.str.size),
                                   k->via.str.size ? k->via.str.ptr : "");
    }
    return SF_OK;
}

/* The value of a required field, or NULL with err set. */
static const msgpack_object *need(diag *d, const char *where, const msgpack_object_map *m,
                                  const char *key)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (key_is(&m->ptr[i].key, key))
            return &m->ptr[i].val;
    fleet__fail(d->err, d->errlen, SF_EINVAL, "%s.%s: missing required field", where, key);
    return NULL;
}

static const msgpack_object *maybe(const msgpack_object_map *m, const char *key)
{
    for (uint32_t i = 0; i < m->size; i++)
        if (key_is(&m->ptr[i].key, key))
            return &m->ptr[i].val;
    return NULL;
}

static sf_rc as_uint(diag *d, const char *where, const char *key, const msgpack_object *o,
                     uint64_t max, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return wrong_kind(d, where, key, "an unsigned integer", o);
    if (o->via.u64 > max)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "%s.%s: %llu is over %llu", where, key,
                           (unsigned long long)o->via.u64, (unsigned long long)max);
    *out = o->via.u64;
    return SF_OK;
}

static sf_rc get_u64(diag *d, const char *where, const msgpack_object_map *m, const char *key,
                     uint64_t *out)
{
    const msgpack_object *o = need(d, where, m, key);
    return o ? as_uint(d, where, key, o, UINT64_MAX, out) : SF_EINVAL;
}

static sf_rc get_u32(diag *d, const char *where, const msgpack_object_map *m, const char *key,
                     uint32_t *out)
{
    uint64_t v = 0;
    const msgpack_object *o = need(d, where, m, key);
    sf_rc rc = o ? as_uint(d, where, key, o, UINT32_MAX, &v) : SF_EINVAL;
    *out = (uint32_t)v;
    return rc;
}

/* Integers are taken as numbers too: a peer in a language without a float
 * type for 0 or 1 still means a number. */
static sf_rc as_double(diag *d, const char *where, const char *key, const msgpack_object *o,
                       double *out)
{
    switch (o->type) {
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        *out = o->via.f64;
        return SF_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        *out = (double)o->via.u64;
        return SF_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        *out = (double)o->via.i64;
        return SF_OK;
    default:
        return wrong_kind(d, where, key, "a number", o);
    }
}

/* Copies a string value into owned memory, refusing one over max bytes or
 * holding a NUL (which a C string would silently cut). */
static sf_rc as_str(diag *d, const char *where, const char *key, const msgpack_object *o,
                    size_t max, char **out)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return wrong_kind(d, where, key, "a string", o);
    size_t n = o->via.str.size;
    if (n > max)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "%s.%s: %zu bytes, over the %zu limit",
                           where, key, n, max);
    if (n && memchr(o->via.str.ptr, '\0', n))
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s.%s: contains a NUL byte", where, key);
    char *s = malloc(n + 1);
    if (!s)
        return fleet__fail(d->err, d->errlen, SF_ENOMEM, "out of memory");
    if (n)
        memcpy(s, o->via.str.ptr, n);
    s[n] = '\0';
    *out = s;
    return SF_OK;
}

static sf_rc get_str(diag *d, const char *where, const msgpack_object_map *m, const char *key,
                     size_t max, char **out)
{
    const msgpack_object *o = need(d, where, m, key);
    return o ? as_str(d, where, key, o, max, out) : SF_EINVAL;
}

static sf_rc get_struct(diag *d, const char *where, const char *key, const msgpack_object *o,
                        const msgpack_object_map **out)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return wrong_kind(d, where, key, "a map", o);
    *out = &o->via.map;
    return check_struct_map(d, where, key, *out);
}

#define TRY(expr)                                                                                  \
    do {                                                                                           \
        sf_rc rc_ = (expr);                                                                        \
        if (rc_ != SF_OK)                                                                          \
            return rc_;                                                                            \
    } while (0)

static sf_rc decode_kernels(diag *d, const msgpack_object *o, fleet_hello *h)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return wrong_kind(d, "hello", FLEET_KEY_KERNELS, "an array", o);
    const msgpack_object_array *a = &o->via.array;
    if (a->size > FLEET_KERNELS_MAX)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "hello.%s: more than %u entries",
                           FLEET_KEY_KERNELS, FLEET_KERNELS_MAX);
    if (a->size == 0)
        return SF_OK;
    h->kernels = calloc(a->size, sizeof *h->kernels);
    if (!h->kernels)
        return fleet__fail(d->err, d->errlen, SF_ENOMEM, "out of memory");
    h->n_kernels = a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s[%u]", FLEET_KEY_KERNELS, (unsigned)i);
        TRY(as_str(d, "hello", key, &a->ptr[i], FLEET_KERNEL_NAME_MAX, &h->kernels[i]));
    }
    return SF_OK;
}

static sf_rc decode_gpus(diag *d, const msgpack_object *o, fleet_hello *h)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return wrong_kind(d, "hello", FLEET_KEY_GPUS, "an array", o);
    const msgpack_object_array *a = &o->via.array;
    if (a->size > FLEET_GPUS_MAX)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "hello.%s: more than %u entries",
                           FLEET_KEY_GPUS, FLEET_GPUS_MAX);
    if (a->size == 0)
        return SF_OK;
    h->gpus = calloc(a->size, sizeof *h->gpus);
    if (!h->gpus)
        return fleet__fail(d->err, d->errlen, SF_ENOMEM, "out of memory");
    h->n_gpus = a->size;
    for (uint32_t i = 0; i < a->size; i++) {
        char key[32], where[48];
        snprintf(key, sizeof key, "%s[%u]", FLEET_KEY_GPUS, (unsigned)i);
        snprintf(where, sizeof where, "hello.%s", key);
        const msgpack_object_map *g = NULL;
        TRY(get_struct(d, "hello", key, &a->ptr[i], &g));
        TRY(get_str(d, where, g, FLEET_KEY_NAME, FLEET_GPU_NAME_MAX, &h->gpus[i].name));
        TRY(get_u64(d, where, g, FLEET_KEY_MEMORY, &h->gpus[i].memory_bytes));
    }
    return SF_OK;
}

static sf_rc decode_hello(diag *d, const msgpack_object_map *m, fleet_hello *h)
{
    const char *w = "hello";
    TRY(get_str(d, w, m, FLEET_KEY_ID, FLEET_WORKER_ID_MAX, &h->worker_id));
    TRY(get_str(d, w, m, FLEET_KEY_SW_VERSION, FLEET_VERSION_MAX, &h->version));
    const msgpack_object *k = need(d, w, m, FLEET_KEY_KERNELS);
    if (!k)
        return SF_EINVAL;
    TRY(decode_kernels(d, k, h));
    TRY(get_u32(d, w, m, FLEET_KEY_CORES, &h->cores));
    TRY(get_u32(d, w, m, FLEET_KEY_NUMA, &h->numa_nodes));
    TRY(get_u64(d, w, m, FLEET_KEY_MEMORY, &h->memory_bytes));
    const msgpack_object *g = maybe(m, FLEET_KEY_GPUS); /* a machine may have none */
    if (g)
        TRY(decode_gpus(d, g, h));
    return get_u32(d, w, m, FLEET_KEY_MAX_TASKS, &h->max_tasks);
}

static sf_rc decode_task(diag *d, const msgpack_object_map *m, fleet_task *t)
{
    const char *w = "task";
    TRY(get_u64(d, w, m, FLEET_KEY_ID, &t->task_id));
    TRY(get_u32(d, w, m, FLEET_KEY_ATTEMPT, &t->attempt));
    TRY(get_str(d, w, m, FLEET_KEY_RESOURCE, FLEET_RESOURCE_MAX, &t->resource));
    TRY(get_str(d, w, m, FLEET_KEY_KERNELS, FLEET_KERNEL_NAME_MAX, &t->kernel));
    TRY(get_str(d, w, m, FLEET_KEY_INPUT, FLEET_PAYLOAD_MAX, &t->input));
    TRY(get_u64(d, w, m, FLEET_KEY_TIMEOUT_MS, &t->timeout_ms));
    TRY(get_u64(d, w, m, FLEET_KEY_HEARTBEAT_MS, &t->heartbeat_ms));
    const msgpack_object *r = need(d, w, m, FLEET_KEY_REQUIREMENTS);
    if (!r)
        return SF_EINVAL;
    const msgpack_object_map *req = NULL;
    TRY(get_struct(d, w, FLEET_KEY_REQUIREMENTS, r, &req));
    const char *rw = "task." FLEET_KEY_REQUIREMENTS;
    TRY(get_u32(d, rw, req, FLEET_KEY_CORES, &t->requirements.cores));
    TRY(get_u64(d, rw, req, FLEET_KEY_MEMORY, &t->requirements.memory_bytes));
    const msgpack_object *gpu = need(d, rw, req, FLEET_KEY_GPU);
    if (!gpu)
        return SF_EINVAL;
    if (gpu->type != MSGPACK_OBJECT_BOOLEAN)
        return wrong_kind(d, rw, FLEET_KEY_GPU, "a boolean", gpu);
    t->requirements.gpu = gpu->via.boolean;
    return SF_OK;
}

static sf_rc decode_metrics(diag *d, const msgpack_object *o, fleet_progress *p)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return wrong_kind(d, "progress", FLEET_KEY_METRICS, "a map", o);
    const msgpack_object_map *m = &o->via.map;
    if (m->size > FLEET_METRICS_MAX)
        return fleet__fail(d->err, d->errlen, SF_ELIMIT, "progress.%s: more than %u entries",
                           FLEET_KEY_METRICS, FLEET_METRICS_MAX);
    if (m->size == 0)
        return SF_OK;
    p->metrics = calloc(m->size, sizeof *p->metrics);
    if (!p->metrics)
        return fleet__fail(d->err, d->errlen, SF_ENOMEM, "out of memory");
    p->n_metrics = m->size;
    for (uint32_t i = 0; i < m->size; i++) {
        char key[32];
        snprintf(key, sizeof key, "%s[%u]", FLEET_KEY_METRICS, (unsigned)i);
        TRY(as_str(d, "progress", key, &m->ptr[i].key, FLEET_METRIC_NAME_MAX, &p->metrics[i].name));
        TRY(as_double(d, "progress", key, &m->ptr[i].val, &p->metrics[i].value));
    }
    return SF_OK; /* names repeated, values not finite: fleet_msg_check */
}

static sf_rc decode_progress(diag *d, const msgpack_object_map *m, fleet_progress *p)
{
    const char *w = "progress";
    TRY(get_u64(d, w, m, FLEET_KEY_ID, &p->task_id));
    const msgpack_object *f = need(d, w, m, FLEET_KEY_FRACTION);
    if (!f)
        return SF_EINVAL;
    TRY(as_double(d, w, FLEET_KEY_FRACTION, f, &p->fraction));
    TRY(get_u64(d, w, m, FLEET_KEY_RECORDS, &p->records));
    TRY(get_u32(d, w, m, FLEET_KEY_EPOCH, &p->epoch));
    const msgpack_object *met = maybe(m, FLEET_KEY_METRICS);
    return met ? decode_metrics(d, met, p) : SF_OK;
}

static sf_rc decode_fields(diag *d, const msgpack_object_map *m, fleet_msg *out)
{
    switch (out->type) {
    case FLEET_HELLO:
        return decode_hello(d, m, &out->u.hello);
    case FLEET_WELCOME:
        TRY(get_u32(d, "welcome", m, FLEET_KEY_HEARTBEAT_MS, &out->u.welcome.heartbeat_ms));
        return get_str(d, "welcome", m, FLEET_KEY_SESSION, FLEET_SESSION_ID_MAX,
                       &out->u.welcome.session_id);
    case FLEET_REFUSE:
        return get_str(d, "refuse", m, FLEET_KEY_REASON, FLEET_REASON_MAX, &out->u.refuse.reason);
    case FLEET_HEARTBEAT:
        TRY(get_u64(d, "heartbeat", m, FLEET_KEY_SEQ, &out->u.heartbeat.seq));
        return get_u32(d, "heartbeat", m, FLEET_KEY_LOAD, &out->u.heartbeat.load);
    case FLEET_TASK:
        return decode_task(d, m, &out->u.task);
    case FLEET_PROGRESS:
        return decode_progress(d, m, &out->u.progress);
    case FLEET_RESULT:
        TRY(get_u64(d, "result", m, FLEET_KEY_ID, &out->u.result.task_id));
        return get_str(d, "result", m, FLEET_KEY_OUTPUT, FLEET_PAYLOAD_MAX, &out->u.result.output);
    case FLEET_FAILURE:
        TRY(get_u64(d, "failure", m, FLEET_KEY_ID, &out->u.failure.task_id));
        TRY(get_str(d, "failure", m, FLEET_KEY_ERROR, FLEET_ERROR_MAX, &out->u.failure.error));
        return get_str(d, "failure", m, FLEET_KEY_CAUSE, FLEET_CAUSE_MAX, &out->u.failure.cause);
    case FLEET_CANCEL:
        TRY(get_u64(d, "cancel", m, FLEET_KEY_ID, &out->u.cancel.task_id));
        return get_str(d, "cancel", m, FLEET_KEY_REASON, FLEET_REASON_MAX, &out->u.cancel.reason);
    default:
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "no such message type");
    }
}

/* "v" then "t": the version first, so a newer peer's new type is reported
 * as the version mismatch it really is. */
static sf_rc decode_header(diag *d, const msgpack_object_map *m, fleet_msg_type *type)
{
    const msgpack_object *v = maybe(m, FLEET_KEY_VERSION);
    if (!v)
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s: missing required field",
                           FLEET_KEY_VERSION);
    if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s: expected an unsigned integer, got %s",
                           FLEET_KEY_VERSION, kind_name(v->type));
    if (v->via.u64 != FLEET_PROTO_VERSION)
        return fleet__fail(d->err, d->errlen, SF_EUNSUPPORTED,
                           "%s: protocol version %llu, this side speaks %u", FLEET_KEY_VERSION,
                           (unsigned long long)v->via.u64, FLEET_PROTO_VERSION);
    const msgpack_object *t = maybe(m, FLEET_KEY_TYPE);
    if (!t)
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s: missing required field",
                           FLEET_KEY_TYPE);
    if (t->type != MSGPACK_OBJECT_STR)
        return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s: expected a string, got %s",
                           FLEET_KEY_TYPE, kind_name(t->type));
#define FLEET_MSG_MATCH(name, wire, from)                                                          \
    if (key_is(t, wire)) {                                                                         \
        *type = name;                                                                              \
        return SF_OK;                                                                              \
    }
    FLEET_MSG_LIST(FLEET_MSG_MATCH)
#undef FLEET_MSG_MATCH
    size_t n = t->via.str.size;
    return fleet__fail(d->err, d->errlen, SF_EINVAL, "%s: unknown message type \"%.*s\"",
                       FLEET_KEY_TYPE, (int)(n > 32 ? 32 : n), n ? t->via.str.ptr : "");
}

/* The object tree of a message lives in a zone. A fresh zone per message
 * (what msgpack_unpack_next does) costs an 8 KiB allocation each time,
 * the largest part of decoding a small message; each thread keeps one and
 * clears it after every message instead. */
static pthread_key_t zone_key;
static pthread_once_t zone_once = PTHREAD_ONCE_INIT;

static void zone_free(void *z)
{
    msgpack_zone_free(z);
}

static void zone_key_make(void)
{
    pthread_key_create(&zone_key, zone_free);
}

static msgpack_zone *thread_zone(void)
{
    pthread_once(&zone_once, zone_key_make);
    msgpack_zone *z = pthread_getspecific(zone_key);
    if (!z) {
        z = msgpack_zone_new(MSGPACK_ZONE_CHUNK_SIZE);
        if (z && pthread_setspecific(zone_key, z) != 0) {
            msgpack_zone_free(z);
            z = NULL;
        }
    }
    return z;
}

sf_rc fleet_msg_decode(const void *bytes, size_t len, fleet_msg *out, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!out)
        return fleet__fail(err, errlen, SF_EINVAL, "no message to decode into");
    memset(out, 0, sizeof *out);
    if (!bytes && len)
        return fleet__fail(err, errlen, SF_EINVAL, "no bytes");
    sf_rc rc = scan_frame(bytes, len, err, errlen);
    if (rc != SF_OK)
        return rc;

    msgpack_zone *zone = thread_zone();
    if (!zone)
        return fleet__fail(err, errlen, SF_ENOMEM, "out of memory");
    struct {
        msgpack_object data;
    } up; /* named as msgpack_unpacked's member, which it replaces */
    size_t off = 0;
    msgpack_unpack_return ur = msgpack_unpack(bytes, len, &off, zone, &up.data);
    diag d = {.err = err, .errlen = errlen};
    if (ur == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = fleet__fail(err, errlen, SF_ENOMEM, "out of memory");
    else if (ur != MSGPACK_UNPACK_SUCCESS || off != len) /* the scan says it cannot be */
        rc = fleet__fail(err, errlen, SF_EINVAL, "not one msgpack value");
    else if (up.data.type != MSGPACK_OBJECT_MAP)
        rc = fleet__fail(err, errlen, SF_EINVAL, "message: expected a map, got %s",
                         kind_name(up.data.type));
    if (rc == SF_OK)
        rc = check_struct_map(&d, "message", NULL, &up.data.via.map);
    if (rc == SF_OK)
        rc = decode_header(&d, &up.data.via.map, &out->type);
    if (rc == SF_OK)
        rc = decode_fields(&d, &up.data.via.map, out);
    msgpack_zone_clear(zone); /* everything kept was copied out */
    if (rc == SF_OK)
        rc = fleet_msg_check(out, err, errlen);
    if (rc != SF_OK)
        fleet_msg_clear(out);
    return rc;
}
