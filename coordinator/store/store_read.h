/* store/store_read.h - queries, on a reader connection (one per thread).
 *
 * Each answers rows as JSON objects keyed by column name (integers as
 * integers, text as strings, NULL as null): a new reference, or NULL when
 * the database could not be read. "One row" queries answer json_null()
 * (not NULL) when nothing matches. Pages are keyset-paginated: pass the
 * last id seen (0 to begin), take the next `limit` rows. */
#ifndef STORE_STORE_READ_H
#define STORE_STORE_READ_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <sqlite3.h>

json_t *store_get_machine(sqlite3 *db, const char *arn);
json_t *store_get_version(sqlite3 *db, int64_t machine_id, int64_t revision);
/* Machines in id order after after_id, with their current definition. */
json_t *store_list_machines(sqlite3 *db, int64_t after_id, int limit);

json_t *store_get_execution(sqlite3 *db, const char *arn);
json_t *store_get_execution_by_id(sqlite3 *db, int64_t id);
/* Newest first: executions with id below before_id (0: from the newest). */
json_t *store_list_executions(sqlite3 *db, int64_t machine_id, const char *status,
                              int64_t before_id, int limit);
json_t *store_running_executions(sqlite3 *db);
/* 1 when an execution with this ARN exists, 0 when not, -1 on error. Cheap:
 * its statement stays prepared per thread (see store_close_reader). */
int store_execution_exists(sqlite3 *db, const char *arn);
/* Closes a reader connection and every statement prepared on it. */
void store_close_reader(sqlite3 *db);

/* Event rows (store_event's columns), after from_id (reverse: before). */
json_t *store_list_events(sqlite3 *db, int64_t exec_id, int64_t from_id, bool reverse,
                          int limit);
json_t *store_list_inputs(sqlite3 *db, int64_t exec_id);

json_t *store_get_activity(sqlite3 *db, const char *arn);
json_t *store_list_activities(sqlite3 *db, int64_t after_id, int limit);

/* Machines and activities, all of them, for loading at start. */
json_t *store_all_machines(sqlite3 *db);
json_t *store_all_activities(sqlite3 *db);

#endif
