/* fleet/fleet_local.h - the workers a coordinator spawns on its own machine.
 *
 * The embedded default: with no fleet set up by hand, a coordinator (or
 * `statefleet run`) starts one statefleet-worker per NUMA node of this
 * machine, each serving only its node, connected to the fleet's private
 * local endpoint. A worker that dies is started again (after a pause that
 * grows while it keeps dying young); stopping ends them all. */
#ifndef FLEET_LOCAL_H
#define FLEET_LOCAL_H

#include <stdbool.h>
#include <stddef.h>

#include "common/sf_rc.h"

typedef struct fleet_local_config {
    const char *endpoint;      /* where they connect */
    const char *worker_bin;    /* NULL: $STATEFLEET_WORKER, else statefleet-worker
                                  beside this program */
    const char *functions_dir; /* passed on; NULL: none */
    const char *data_root;     /* passed on; NULL: none */
    int count;                 /* 0: one per NUMA node */
    bool quiet;
} fleet_local_config;

typedef struct fleet_local fleet_local;

sf_rc fleet_local_start(const fleet_local_config *cfg, fleet_local **out, char *err, size_t errlen);
/* SIGTERM to each, then SIGKILL to any still there after 3 s. */
void fleet_local_stop(fleet_local **l);
/* How many were started (one per NUMA node unless count said). */
int fleet_local_count(const fleet_local *l);

#endif
