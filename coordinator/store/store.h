/* store/store.h - the coordinator's SQLite database.
 *
 * One file in WAL mode holds state machines (with every revision of their
 * definitions), executions, their history events, the journal of inputs
 * each execution's engine was fed (the source of truth for replay after a
 * crash), activities, task tokens and the coordinator's secrets. One
 * connection writes, in transactions the caller groups (group commit);
 * any number of connections read, one per thread. The store knows tables,
 * not Step Functions: the service layer gives rows their meaning. */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "../../common/sf_rc.h"

typedef enum { STORE_SYNC_OFF, STORE_SYNC_NORMAL, STORE_SYNC_FULL } store_sync;

typedef struct store store;

/* Opens (creating when missing) the database at path for writing. On
 * failure err names the file and what SQLite said. */
sf_rc store_open(const char *path, store_sync sync, store **out, char *err, size_t errlen);
void store_close(store **s);
/* A read-only connection to the same file, for one thread. */
sf_rc store_open_reader(const char *path, sqlite3 **out);

/* The coordinator's secret key (for task tokens): made on first open. */
sf_rc store_secret(store *s, const char *name, unsigned char *key, size_t len);

/* The write transaction. Everything between begin and commit lands
 * together or not at all; commit returns only when it is durable as the
 * sync level promises. */
sf_rc store_begin(store *s);
sf_rc store_commit(store *s);
void store_rollback(store *s);
const char *store_errmsg(store *s);

/* ---- rows (inside a transaction) ---------------------------------------- */
typedef struct store_machine {
    int64_t id;
    const char *arn, *name, *type; /* type: "STANDARD" or "EXPRESS" */
    int64_t created_ms;
    int64_t revision; /* the current one */
} store_machine;

typedef struct store_version {
    int64_t machine_id, revision;
    const char *definition, *role_arn;
    int64_t updated_ms;
} store_version;

typedef struct store_execution {
    int64_t id;
    const char *arn, *name;
    int64_t machine_id, revision;
    const char *input;
    uint64_t seed;
    int64_t start_ms;
} store_execution;

/* What an engine was fed, in order; replaying these rebuilds it. */
typedef enum {
    STORE_IN_START = 1,
    STORE_IN_TASK_STARTED,   /* task_id, a: worker name */
    STORE_IN_TASK_SUCCEEDED, /* task_id, payload: output */
    STORE_IN_TASK_FAILED,    /* task_id, a: error, b: cause */
    STORE_IN_TASK_HEARTBEAT, /* task_id */
    STORE_IN_TICK,
    STORE_IN_STOP,           /* a: error, b: cause */
    STORE_IN_TASK_PROGRESS,  /* task_id, payload: the progress object */
} store_input_kind;

typedef struct store_input {
    int64_t exec_id, seq;
    store_input_kind kind;
    uint64_t task_id;
    int64_t now_ms;
    const char *payload, *a, *b; /* NULL when absent */
} store_input;

sf_rc store_put_machine(store *s, const store_machine *m);
sf_rc store_set_machine_revision(store *s, int64_t id, int64_t revision);
sf_rc store_delete_machine(store *s, int64_t id);
sf_rc store_put_version(store *s, const store_version *v);
sf_rc store_put_execution(store *s, const store_execution *x);
sf_rc store_end_execution(store *s, int64_t id, const char *status, const char *output,
                          const char *error, const char *cause, int64_t stop_ms);
/* A history event in the engine's compact form (see asl/history.h); it is
 * turned into AWS's JSON when read, which keeps recording cheap. */
typedef struct store_event {
    int64_t exec_id, id, prev_id, ts_ms;
    int type, state_type;
    const char *name, *resource;
    const char *data, *vars; /* JSON text, or NULL */
    const char *error, *cause;
    int64_t index, extra;
} store_event;

sf_rc store_put_event(store *s, const store_event *e);
sf_rc store_put_input(store *s, const store_input *in);
sf_rc store_put_token(store *s, const char *token, int64_t exec_id, uint64_t task_id);
sf_rc store_put_activity(store *s, int64_t id, const char *arn, const char *name,
                         int64_t created_ms);
sf_rc store_delete_activity(store *s, int64_t id);

/* The largest id in table ("machines", "executions", "activities"), 0 when empty. */
int64_t store_max_id(store *s, const char *table);

#endif
