/* proto/fleet_msg.h - the fleet's wire messages: C structs and their msgpack codec.
 *
 * Every message is one msgpack map carrying "v" (the protocol version) and
 * "t" (the message type) beside its own fields; proto/README.md lists the
 * fields, their types and limits, and the life of a task on the wire.
 *
 * Pure: no sockets, no threads, no printing. The decoder is the fleet's
 * border: it refuses anything malformed or over a limit with a message
 * naming the field, and never reads outside the bytes it is given.
 *
 * Ownership, for the whole API: every string and array inside a fleet_msg
 * is owned by that message and freed by fleet_msg_clear(); strings are
 * NUL-terminated and never NULL in a decoded message. */
#ifndef FLEET_MSG_H
#define FLEET_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"

#define FLEET_PROTO_VERSION 1u

/* Limits. Payloads between states keep AWS's 256 KiB limit, so a frame of
 * 1 MiB holds the largest legal message with room to spare. */
#define FLEET_FRAME_MAX (1024u * 1024u)
#define FLEET_DEPTH_MAX 8u   /* nesting of arrays and maps, the message map is 1 */
#define FLEET_FIELDS_MAX 64u /* entries in any map that is a struct */
#define FLEET_WORKER_ID_MAX 128u
#define FLEET_VERSION_MAX 64u
#define FLEET_KERNELS_MAX 64u
#define FLEET_KERNEL_NAME_MAX 128u
#define FLEET_GPUS_MAX 64u
#define FLEET_GPU_NAME_MAX 256u
#define FLEET_SESSION_ID_MAX 128u
#define FLEET_REASON_MAX 1024u
#define FLEET_RESOURCE_MAX 2048u
#define FLEET_PAYLOAD_MAX 262144u /* task input and result output, JSON text */
#define FLEET_METRICS_MAX 32u
#define FLEET_METRIC_NAME_MAX 128u
#define FLEET_ERROR_MAX 256u /* an ASL error name */
#define FLEET_CAUSE_MAX 32768u

/* The message types: enum value, wire name, and who may send it. The one
 * list the codec, the session checker and the README follow. */
#define FLEET_MSG_LIST(X)                                                                          \
    X(FLEET_HELLO, "hello", FLEET_FROM_WORKER)                                                     \
    X(FLEET_WELCOME, "welcome", FLEET_FROM_COORDINATOR)                                            \
    X(FLEET_REFUSE, "refuse", FLEET_FROM_COORDINATOR)                                              \
    X(FLEET_HEARTBEAT, "heartbeat", FLEET_FROM_EITHER)                                             \
    X(FLEET_TASK, "task", FLEET_FROM_COORDINATOR)                                                  \
    X(FLEET_PROGRESS, "progress", FLEET_FROM_WORKER)                                               \
    X(FLEET_RESULT, "result", FLEET_FROM_WORKER)                                                   \
    X(FLEET_FAILURE, "failure", FLEET_FROM_WORKER)                                                 \
    X(FLEET_CANCEL, "cancel", FLEET_FROM_COORDINATOR)

typedef enum {
    FLEET_NONE = 0, /* a cleared message; never on the wire */
#define FLEET_MSG_ENUM(name, wire, from) name,
    FLEET_MSG_LIST(FLEET_MSG_ENUM)
#undef FLEET_MSG_ENUM
        FLEET_MSG_TYPE_COUNT
} fleet_msg_type;

/* Who sent a message. FLEET_FROM_EITHER appears only in FLEET_MSG_LIST. */
typedef enum {
    FLEET_FROM_WORKER = 1,
    FLEET_FROM_COORDINATOR = 2,
    FLEET_FROM_EITHER = 3
} fleet_side;

typedef struct {
    char *name;
    uint64_t memory_bytes;
} fleet_gpu;

typedef struct {
    char *worker_id;
    char *version; /* the worker's software version, for logs */
    char **kernels;
    size_t n_kernels;
    uint32_t cores;
    uint32_t numa_nodes;
    uint64_t memory_bytes;
    fleet_gpu *gpus;
    size_t n_gpus;
    uint32_t max_tasks; /* how many tasks it runs at once; at least 1 */
} fleet_hello;

typedef struct {
    uint32_t heartbeat_ms; /* how often the worker must send a heartbeat */
    char *session_id;
} fleet_welcome;

typedef struct {
    char *reason;
} fleet_refuse;

typedef struct {
    uint64_t seq;  /* strictly increasing per sender */
    uint32_t load; /* tasks running now */
} fleet_heartbeat;

typedef struct {
    uint32_t cores;
    uint64_t memory_bytes;
    bool gpu;
} fleet_requirements;

typedef struct {
    uint64_t task_id;
    uint32_t attempt;
    char *resource;        /* the Task state's Resource ARN */
    char *kernel;          /* may be empty: the resource alone says what runs */
    char *input;           /* JSON text; the codec does not parse it */
    uint64_t timeout_ms;   /* 0: none */
    uint64_t heartbeat_ms; /* 0: none */
    fleet_requirements requirements;
} fleet_task;

typedef struct {
    char *name;
    double value; /* finite */
} fleet_metric;

typedef struct {
    uint64_t task_id;
    double fraction; /* 0..1 */
    uint64_t records;
    uint32_t epoch;
    fleet_metric *metrics;
    size_t n_metrics;
} fleet_progress;

typedef struct {
    uint64_t task_id;
    char *output; /* JSON text */
} fleet_result;

typedef struct {
    uint64_t task_id;
    char *error; /* an ASL error name, such as States.TaskFailed */
    char *cause;
} fleet_failure;

typedef struct {
    uint64_t task_id;
    char *reason;
} fleet_cancel;

typedef struct {
    fleet_msg_type type;
    union {
        fleet_hello hello;
        fleet_welcome welcome;
        fleet_refuse refuse;
        fleet_heartbeat heartbeat;
        fleet_task task;
        fleet_progress progress;
        fleet_result result;
        fleet_failure failure;
        fleet_cancel cancel;
    } u;
} fleet_msg;

/* The wire name of type ("hello"), or "none" for anything not in the list. */
const char *fleet_msg_type_name(fleet_msg_type type);

/* Which side may send type: FLEET_FROM_WORKER, FLEET_FROM_COORDINATOR or
 * FLEET_FROM_EITHER; 0 for anything not in the list. */
fleet_side fleet_msg_type_sender(fleet_msg_type type);

/* Checks m against every limit and range of the protocol, the same rules the
 * decoder applies. SF_ELIMIT when something is over a limit, SF_EINVAL for
 * anything else (a NULL string, an empty id, a fraction outside 0..1); err
 * (may be NULL) names the field. */
sf_rc fleet_msg_check(const fleet_msg *m, char *err, size_t errlen);

/* Appends m as one msgpack map to out. Checks m first (fleet_msg_check), so
 * a sender never emits what a receiver would refuse; out is unchanged on
 * failure. SF_ENOMEM when out cannot grow. */
sf_rc fleet_msg_encode(const fleet_msg *m, msgpack_sbuffer *out);

/* Decodes exactly one message filling all of bytes[0, len). out is
 * overwritten (not cleared first) and owns what it holds on SF_OK; on any
 * failure out is left cleared (type FLEET_NONE) and err (may be NULL) says
 * which field is wrong and how. Returns SF_EINVAL for malformed input,
 * SF_ELIMIT for a frame, string, array or nesting over a limit,
 * SF_EUNSUPPORTED for another protocol version, SF_ENOMEM. Unknown fields
 * are skipped, so a newer peer may add them. */
sf_rc fleet_msg_decode(const void *bytes, size_t len, fleet_msg *out, char *err, size_t errlen);

/* Whether a and b hold the same message, field by field (doubles by ==,
 * metrics in order). For tests and the fuzz harness's round trips. */
bool fleet_msg_equal(const fleet_msg *a, const fleet_msg *b);

/* Frees everything m owns and leaves it as type FLEET_NONE; NULL-safe, and
 * safe on a zeroed or already cleared message. */
void fleet_msg_clear(fleet_msg *m);

#endif
