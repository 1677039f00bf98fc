/* store/store_read.c - the queries (see store_read.h). */
#include "store_read.h"

#include <stdarg.h>
#include <string.h>

static json_t *column(sqlite3_stmt *st, int i)
{
    switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER:
        return json_integer(sqlite3_column_int64(st, i));
    case SQLITE_TEXT:
        return json_stringn((const char *)sqlite3_column_text(st, i),
                            (size_t)sqlite3_column_bytes(st, i));
    case SQLITE_FLOAT:
        return json_real(sqlite3_column_double(st, i));
    default:
        return json_null();
    }
}

/* Runs sql with binds described by fmt ('i' int64, 's' text or NULL) and
 * answers every row as an object. */
static json_t *rows(sqlite3 *db, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 'i') {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            const char *v = va_arg(ap, const char *);
            if (v)
                sqlite3_bind_text(st, i + 1, v, -1, SQLITE_TRANSIENT);
            else
                sqlite3_bind_null(st, i + 1);
        }
    }
    va_end(ap);
    json_t *out = json_array();
    int rc;
    int n = sqlite3_column_count(st);
    while (out && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *row = json_object();
        for (int i = 0; row && i < n; i++)
            json_object_set_new(row, sqlite3_column_name(st, i), column(st, i));
        json_array_append_new(out, row);
    }
    if (out && rc != SQLITE_DONE) {
        json_decref(out);
        out = NULL;
    }
    sqlite3_finalize(st);
    return out;
}

static json_t *one(json_t *all)
{
    if (!all)
        return NULL;
    json_t *r = json_array_size(all) ? json_incref(json_array_get(all, 0)) : json_null();
    json_decref(all);
    return r;
}

#define MACHINE_COLUMNS                                                                      \
    "m.id, m.arn, m.name, m.type, m.created_ms, m.revision, v.definition, v.role_arn, "     \
    "v.updated_ms FROM machines m JOIN versions v ON v.machine_id=m.id AND v.revision=m.revision"

json_t *store_get_machine(sqlite3 *db, const char *arn)
{
    return one(rows(db, "SELECT " MACHINE_COLUMNS " WHERE m.arn=?", "s", arn));
}

json_t *store_get_version(sqlite3 *db, int64_t machine_id, int64_t revision)
{
    return one(rows(db, "SELECT * FROM versions WHERE machine_id=? AND revision=?", "ii",
                    machine_id, revision));
}

json_t *store_list_machines(sqlite3 *db, int64_t after_id, int limit)
{
    return rows(db, "SELECT " MACHINE_COLUMNS " WHERE m.id>? ORDER BY m.id LIMIT ?", "ii",
                after_id, (int64_t)limit);
}

json_t *store_all_machines(sqlite3 *db)
{
    return rows(db, "SELECT " MACHINE_COLUMNS " ORDER BY m.id", "");
}

json_t *store_get_execution(sqlite3 *db, const char *arn)
{
    return one(rows(db, "SELECT * FROM executions WHERE arn=?", "s", arn));
}

json_t *store_get_execution_by_id(sqlite3 *db, int64_t id)
{
    return one(rows(db, "SELECT * FROM executions WHERE id=?", "i", id));
}

json_t *store_list_executions(sqlite3 *db, int64_t machine_id, const char *status,
                              int64_t before_id, int limit)
{
    return rows(db,
                "SELECT id, arn, name, machine_id, status, start_ms, stop_ms FROM executions "
                "WHERE machine_id=?1 AND (?2 IS NULL OR status=?2) AND id<?3 "
                "ORDER BY id DESC LIMIT ?4",
                "isii", machine_id, status, before_id > 0 ? before_id : INT64_MAX,
                (int64_t)limit);
}

json_t *store_running_executions(sqlite3 *db)
{
    return rows(db, "SELECT * FROM executions WHERE status='RUNNING' ORDER BY id", "");
}

json_t *store_list_events(sqlite3 *db, int64_t exec_id, int64_t from_id, bool reverse,
                          int limit)
{
    if (reverse)
        return rows(db,
                    "SELECT * FROM events WHERE exec_id=? AND id<? ORDER BY id DESC LIMIT ?",
                    "iii", exec_id, from_id > 0 ? from_id : INT64_MAX, (int64_t)limit);
    return rows(db, "SELECT * FROM events WHERE exec_id=? AND id>? ORDER BY id LIMIT ?",
                "iii", exec_id, from_id, (int64_t)limit);
}

json_t *store_list_inputs(sqlite3 *db, int64_t exec_id)
{
    return rows(db, "SELECT * FROM inputs WHERE exec_id=? ORDER BY seq", "i", exec_id);
}

json_t *store_get_activity(sqlite3 *db, const char *arn)
{
    return one(rows(db, "SELECT * FROM activities WHERE arn=?", "s", arn));
}

json_t *store_list_activities(sqlite3 *db, int64_t after_id, int limit)
{
    return rows(db, "SELECT * FROM activities WHERE id>? ORDER BY id LIMIT ?", "ii", after_id,
                (int64_t)limit);
}

json_t *store_all_activities(sqlite3 *db)
{
    return rows(db, "SELECT * FROM activities ORDER BY id", "");
}

/* StartExecution asks this under the coordinator's lock for every call, so
 * its statement is prepared once per thread and connection. */
static __thread sqlite3 *exists_db;
static __thread sqlite3_stmt *exists_st;

int store_execution_exists(sqlite3 *db, const char *arn)
{
    if (exists_db != db) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v3(db, "SELECT 1 FROM executions WHERE arn=?", -1,
                               SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
            return -1;
        exists_db = db; /* an earlier connection's statement died with it */
        exists_st = st;
    }
    sqlite3_bind_text(exists_st, 1, arn, -1, SQLITE_STATIC);
    int rc = sqlite3_step(exists_st);
    sqlite3_reset(exists_st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

void store_close_reader(sqlite3 *db)
{
    sqlite3_stmt *st;
    while ((st = sqlite3_next_stmt(db, NULL)))
        sqlite3_finalize(st);
    if (exists_db == db)
        exists_db = NULL;
    sqlite3_close(db);
}
