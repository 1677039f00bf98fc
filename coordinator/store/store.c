/* store/store.c - opening the database, its schema, and the writes. */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

/* Bump when a table changes; older files are refused rather than misread. */
#define STORE_SCHEMA_VERSION 1
#define STORE_STR2(x) #x
#define STORE_STR(x) STORE_STR2(x)

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);"
    "CREATE TABLE IF NOT EXISTS machines("
    "  id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  type TEXT NOT NULL, created_ms INTEGER NOT NULL, revision INTEGER NOT NULL);"
    /* Executions keep running the revision they started with. */
    "CREATE TABLE IF NOT EXISTS versions("
    "  machine_id INTEGER NOT NULL, revision INTEGER NOT NULL, definition TEXT NOT NULL,"
    "  role_arn TEXT NOT NULL, updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(machine_id, revision)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS executions("
    "  id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  machine_id INTEGER NOT NULL, revision INTEGER NOT NULL, status TEXT NOT NULL,"
    "  input TEXT NOT NULL, output TEXT, error TEXT, cause TEXT, seed INTEGER NOT NULL,"
    "  start_ms INTEGER NOT NULL, stop_ms INTEGER);"
    "CREATE INDEX IF NOT EXISTS executions_by_machine ON executions(machine_id, id);"
    "CREATE INDEX IF NOT EXISTS executions_running ON executions(status) WHERE status='RUNNING';"
    "CREATE TABLE IF NOT EXISTS events("
    "  exec_id INTEGER NOT NULL, id INTEGER NOT NULL, prev_id INTEGER NOT NULL,"
    "  type INTEGER NOT NULL, state_type INTEGER NOT NULL, ts_ms INTEGER NOT NULL,"
    "  name TEXT, resource TEXT, data TEXT, vars TEXT, error TEXT, cause TEXT,"
    "  idx INTEGER NOT NULL, extra INTEGER NOT NULL,"
    "  PRIMARY KEY(exec_id, id)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS inputs("
    "  exec_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind INTEGER NOT NULL,"
    "  task_id INTEGER NOT NULL, now_ms INTEGER NOT NULL, payload TEXT, a TEXT, b TEXT,"
    "  PRIMARY KEY(exec_id, seq)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS tokens("
    "  token TEXT PRIMARY KEY, exec_id INTEGER NOT NULL, task_id INTEGER NOT NULL)"
    "  WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS activities("
    "  id INTEGER PRIMARY KEY, arn TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);";

/* The writes, prepared once. */
#define STORE_STATEMENTS(X)                                                                   \
    X(begin, "BEGIN IMMEDIATE")                                                               \
    X(commit, "COMMIT")                                                                       \
    X(rollback, "ROLLBACK")                                                                   \
    X(put_machine, "INSERT INTO machines(id,arn,name,type,created_ms,revision) "              \
                   "VALUES(?,?,?,?,?,?)")                                                     \
    X(set_revision, "UPDATE machines SET revision=? WHERE id=?")                              \
    X(del_machine, "DELETE FROM machines WHERE id=?")                                         \
    X(put_version, "INSERT INTO versions(machine_id,revision,definition,role_arn,updated_ms) " \
                   "VALUES(?,?,?,?,?)")                                                       \
    X(put_exec, "INSERT INTO executions(id,arn,name,machine_id,revision,status,input,seed,"   \
                "start_ms) VALUES(?,?,?,?,?,'RUNNING',?,?,?)")                                \
    X(end_exec, "UPDATE executions SET status=?,output=?,error=?,cause=?,stop_ms=? WHERE id=?") \
    X(put_event, "INSERT INTO events(exec_id,id,prev_id,type,state_type,ts_ms,name,resource," \
                 "data,vars,error,cause,idx,extra) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)")       \
    X(put_input, "INSERT INTO inputs(exec_id,seq,kind,task_id,now_ms,payload,a,b) "           \
                 "VALUES(?,?,?,?,?,?,?,?)")                                                   \
    X(put_token, "INSERT OR IGNORE INTO tokens(token,exec_id,task_id) VALUES(?,?,?)")         \
    X(put_activity, "INSERT INTO activities(id,arn,name,created_ms) VALUES(?,?,?,?)")         \
    X(del_activity, "DELETE FROM activities WHERE id=?")

struct store {
    sqlite3 *db;
#define STORE_FIELD(name, sql) sqlite3_stmt *name;
    STORE_STATEMENTS(STORE_FIELD)
#undef STORE_FIELD
};

static sf_rc fail(store *s, char *err, size_t errlen, const char *path, const char *what)
{
    snprintf(err, errlen, "%s: %s: %s", path, what, s->db ? sqlite3_errmsg(s->db) : "no memory");
    store_close(&s);
    return SF_EIO;
}

static int scalar_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

sf_rc store_open(const char *path, store_sync sync, store **out, char *err, size_t errlen)
{
    *out = NULL;
    store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return SF_ENOMEM;
    }
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
        SQLITE_OK)
        return fail(s, err, errlen, path, "cannot open");
    sqlite3_busy_timeout(s->db, 10000);
    static const char *const sync_sql[] = {"PRAGMA synchronous=OFF", "PRAGMA synchronous=NORMAL",
                                           "PRAGMA synchronous=FULL"};
    int64_t version = 0;
    if (sqlite3_exec(s->db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, sync_sql[sync], NULL, NULL, NULL) != SQLITE_OK ||
        /* Checkpoints run when the WAL grows past ~64 MiB, not every 4 MiB:
         * fewer stalls on the commit path under heavy load. */
        sqlite3_exec(s->db, "PRAGMA wal_autocheckpoint=16384", NULL, NULL, NULL) != SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA cache_size=-65536", NULL, NULL, NULL) != SQLITE_OK)
        return fail(s, err, errlen, path, "cannot set WAL mode");
    if (scalar_int(s->db, "PRAGMA user_version", &version) != 0)
        return fail(s, err, errlen, path, "not a database");
    if (version != 0 && version != STORE_SCHEMA_VERSION) {
        snprintf(err, errlen, "%s: schema version %lld, this coordinator reads version %d", path,
                 (long long)version, STORE_SCHEMA_VERSION);
        store_close(&s);
        return SF_EINVAL;
    }
    char *msg = NULL;
    if (sqlite3_exec(s->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        snprintf(err, errlen, "%s: cannot create tables: %s", path, msg ? msg : "?");
        sqlite3_free(msg);
        store_close(&s);
        return SF_EIO;
    }
    sqlite3_exec(s->db, "PRAGMA user_version=" STORE_STR(STORE_SCHEMA_VERSION), NULL, NULL, NULL);
#define STORE_PREPARE(name, sql)                                                       \
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->name, NULL) != \
        SQLITE_OK)                                                                       \
        return fail(s, err, errlen, path, "cannot prepare " #name);
    STORE_STATEMENTS(STORE_PREPARE)
#undef STORE_PREPARE
    *out = s;
    return SF_OK;
}

void store_close(store **sp)
{
    store *s = *sp;
    if (!s)
        return;
#define STORE_FINALIZE(name, sql) sqlite3_finalize(s->name);
    STORE_STATEMENTS(STORE_FINALIZE)
#undef STORE_FINALIZE
    sqlite3_close(s->db);
    free(s);
    *sp = NULL;
}

sf_rc store_open_reader(const char *path, sqlite3 **out)
{
    if (sqlite3_open_v2(path, out, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        sqlite3_close(*out);
        *out = NULL;
        return SF_EIO;
    }
    sqlite3_busy_timeout(*out, 10000);
    return SF_OK;
}

const char *store_errmsg(store *s)
{
    return sqlite3_errmsg(s->db);
}

sf_rc store_secret(store *s, const char *name, unsigned char *key, size_t len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE name=?", -1, &st, NULL) !=
        SQLITE_OK)
        return SF_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sf_rc rc = SF_ENOTFOUND;
    if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len) {
        memcpy(key, sqlite3_column_blob(st, 0), len);
        rc = SF_OK;
    }
    sqlite3_finalize(st);
    if (rc == SF_OK)
        return rc;
    if (RAND_bytes(key, (int)len) != 1)
        return SF_EIO;
    if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO meta(name,value) VALUES(?,?)", -1, &st,
                           NULL) != SQLITE_OK)
        return SF_EIO;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 2, key, (int)len, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? SF_OK : SF_EIO;
    sqlite3_finalize(st);
    return rc;
}

int64_t store_max_id(store *s, const char *table)
{
    char sql[96];
    int64_t v = 0;
    snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(id),0) FROM %s", table);
    scalar_int(s->db, sql, &v);
    return v;
}

/* ---- statements --------------------------------------------------------- */

/* Runs a prepared statement to completion and resets it for the next use.
 * Every writer binds every parameter (NULLs explicitly), so bindings are
 * not cleared: that costs a pass over them per row. */
static sf_rc run(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? SF_OK : SF_EIO;
}

static void text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

sf_rc store_begin(store *s)
{
    return run(s->begin);
}

sf_rc store_commit(store *s)
{
    return run(s->commit);
}

void store_rollback(store *s)
{
    run(s->rollback);
}

sf_rc store_put_machine(store *s, const store_machine *m)
{
    sqlite3_bind_int64(s->put_machine, 1, m->id);
    text(s->put_machine, 2, m->arn);
    text(s->put_machine, 3, m->name);
    text(s->put_machine, 4, m->type);
    sqlite3_bind_int64(s->put_machine, 5, m->created_ms);
    sqlite3_bind_int64(s->put_machine, 6, m->revision);
    return run(s->put_machine);
}

sf_rc store_set_machine_revision(store *s, int64_t id, int64_t revision)
{
    sqlite3_bind_int64(s->set_revision, 1, revision);
    sqlite3_bind_int64(s->set_revision, 2, id);
    return run(s->set_revision);
}

sf_rc store_delete_machine(store *s, int64_t id)
{
    sqlite3_bind_int64(s->del_machine, 1, id);
    return run(s->del_machine);
}

sf_rc store_put_version(store *s, const store_version *v)
{
    sqlite3_bind_int64(s->put_version, 1, v->machine_id);
    sqlite3_bind_int64(s->put_version, 2, v->revision);
    text(s->put_version, 3, v->definition);
    text(s->put_version, 4, v->role_arn);
    sqlite3_bind_int64(s->put_version, 5, v->updated_ms);
    return run(s->put_version);
}

sf_rc store_put_execution(store *s, const store_execution *x)
{
    sqlite3_bind_int64(s->put_exec, 1, x->id);
    text(s->put_exec, 2, x->arn);
    text(s->put_exec, 3, x->name);
    sqlite3_bind_int64(s->put_exec, 4, x->machine_id);
    sqlite3_bind_int64(s->put_exec, 5, x->revision);
    text(s->put_exec, 6, x->input);
    sqlite3_bind_int64(s->put_exec, 7, (int64_t)x->seed);
    sqlite3_bind_int64(s->put_exec, 8, x->start_ms);
    return run(s->put_exec);
}

sf_rc store_end_execution(store *s, int64_t id, const char *status, const char *output,
                          const char *error, const char *cause, int64_t stop_ms)
{
    text(s->end_exec, 1, status);
    text(s->end_exec, 2, output);
    text(s->end_exec, 3, error);
    text(s->end_exec, 4, cause);
    sqlite3_bind_int64(s->end_exec, 5, stop_ms);
    sqlite3_bind_int64(s->end_exec, 6, id);
    return run(s->end_exec);
}

sf_rc store_put_event(store *s, const store_event *e)
{
    sqlite3_stmt *st = s->put_event;
    sqlite3_bind_int64(st, 1, e->exec_id);
    sqlite3_bind_int64(st, 2, e->id);
    sqlite3_bind_int64(st, 3, e->prev_id);
    sqlite3_bind_int(st, 4, e->type);
    sqlite3_bind_int(st, 5, e->state_type);
    sqlite3_bind_int64(st, 6, e->ts_ms);
    text(st, 7, e->name);
    text(st, 8, e->resource);
    text(st, 9, e->data);
    text(st, 10, e->vars);
    text(st, 11, e->error);
    text(st, 12, e->cause);
    sqlite3_bind_int64(st, 13, e->index);
    sqlite3_bind_int64(st, 14, e->extra);
    return run(st);
}

sf_rc store_put_input(store *s, const store_input *in)
{
    sqlite3_bind_int64(s->put_input, 1, in->exec_id);
    sqlite3_bind_int64(s->put_input, 2, in->seq);
    sqlite3_bind_int(s->put_input, 3, in->kind);
    sqlite3_bind_int64(s->put_input, 4, (int64_t)in->task_id);
    sqlite3_bind_int64(s->put_input, 5, in->now_ms);
    text(s->put_input, 6, in->payload);
    text(s->put_input, 7, in->a);
    text(s->put_input, 8, in->b);
    return run(s->put_input);
}

sf_rc store_put_token(store *s, const char *token, int64_t exec_id, uint64_t task_id)
{
    text(s->put_token, 1, token);
    sqlite3_bind_int64(s->put_token, 2, exec_id);
    sqlite3_bind_int64(s->put_token, 3, (int64_t)task_id);
    return run(s->put_token);
}

sf_rc store_put_activity(store *s, int64_t id, const char *arn, const char *name,
                         int64_t created_ms)
{
    sqlite3_bind_int64(s->put_activity, 1, id);
    text(s->put_activity, 2, arn);
    text(s->put_activity, 3, name);
    sqlite3_bind_int64(s->put_activity, 4, created_ms);
    return run(s->put_activity);
}

sf_rc store_delete_activity(store *s, int64_t id)
{
    sqlite3_bind_int64(s->del_activity, 1, id);
    return run(s->del_activity);
}
