/* fleet/fleet_local.c - spawning and minding the local workers. */
#define _GNU_SOURCE
#include "fleet_local.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/sf_log.h"
#include "worker/topology.h"

extern char **environ;

#define RESTART_PAUSE_MAX_MS 5000

typedef struct child {
    pid_t pid;
    int node;           /* the NUMA node it serves, -1 for all */
    int64_t started_ms; /* monotonic */
    int pause_ms;       /* before the next restart; doubles while it dies young */
} child;

struct fleet_local {
    char bin[PATH_MAX];
    char *endpoint, *functions_dir, *data_root;
    bool quiet;
    child *kids;
    int n;
    pthread_t minder;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stopping;
};

static void say(const fleet_local *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const fleet_local *l, const char *fmt, ...)
{
    if (l->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    sf_vlog("statefleet: local workers", fmt, ap); /* one write: lines never interleave */
    va_end(ap);
}

static sf_rc find_bin(const fleet_local_config *cfg, char *out, size_t len, char *err,
                      size_t errlen)
{
    const char *env = getenv("STATEFLEET_WORKER");
    if (cfg->worker_bin || (env && *env)) {
        snprintf(out, len, "%s", cfg->worker_bin ? cfg->worker_bin : env);
    } else {
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0) {
            snprintf(err, errlen, "cannot find this program's directory: %s", strerror(errno));
            return SF_EIO;
        }
        self[n] = '\0';
        snprintf(out, len, "%s/statefleet-worker", dirname(self));
    }
    if (access(out, X_OK) != 0) {
        snprintf(err, errlen, "cannot run the local worker %s: %s (set STATEFLEET_WORKER)", out,
                 strerror(errno));
        return SF_ENOTFOUND;
    }
    return SF_OK;
}

/* Worker `index` of this coordinator; ids are unique among its workers,
 * since a second hello under an id replaces the first. */
static pid_t spawn(fleet_local *l, int index, int node)
{
    char node_arg[16], id[96], host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(node_arg, sizeof node_arg, "%d", node);
    snprintf(id, sizeof id, "%s-local%d", host, index);
    const char *argv[20];
    int a = 0;
    argv[a++] = l->bin;
    argv[a++] = "--coordinator";
    argv[a++] = l->endpoint;
    argv[a++] = "--id";
    argv[a++] = id;
    argv[a++] = "--exit-with-parent";
    if (node >= 0) {
        argv[a++] = "--numa-node";
        argv[a++] = node_arg;
    }
    if (l->functions_dir) {
        argv[a++] = "--functions";
        argv[a++] = l->functions_dir;
    }
    if (l->data_root) {
        argv[a++] = "--data-root";
        argv[a++] = l->data_root;
    }
    if (l->quiet)
        argv[a++] = "--quiet";
    argv[a] = NULL;
    /* The coordinator blocks SIGTERM and SIGINT in its threads to take
     * them with sigwait; a child would inherit that mask and ignore the
     * SIGTERM that stops it. It starts with nothing blocked. */
    posix_spawnattr_t attr;
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGTERM);
    sigaddset(&dflt, SIGINT);
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    /* Its own process group: a Ctrl-C at the terminal is for the command
     * (which stops the execution and then its workers), not for them. */
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
                                        POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    int rc = posix_spawn(&pid, l->bin, NULL, &attr, (char *const *)argv, environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        say(l, "cannot start %s: %s", l->bin, strerror(rc));
        return -1;
    }
    return pid;
}

/* Reaps dead workers and starts them again: a local fleet that loses a
 * worker to a crash (or a kill in a test) heals itself. */
static void *mind(void *arg)
{
    fleet_local *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 200 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&l->cv, &l->mu, &until);
        for (int i = 0; i < l->n && !l->stopping; i++) {
            child *c = &l->kids[i];
            int status;
            if (c->pid > 0 && waitpid(c->pid, &status, WNOHANG) == c->pid) {
                say(l, "worker for node %d (pid %d) %s %d; starting another", c->node, (int)c->pid,
                    WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                    WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
                c->pid = 0;
                c->pause_ms = sf_monotonic_ms() - c->started_ms < 2000
                                  ? (c->pause_ms ? c->pause_ms * 2 : 250)
                                  : 0;
                if (c->pause_ms > RESTART_PAUSE_MAX_MS)
                    c->pause_ms = RESTART_PAUSE_MAX_MS;
                c->started_ms = sf_monotonic_ms(); /* the pause runs from now */
            }
            if (c->pid == 0 && sf_monotonic_ms() - c->started_ms >= c->pause_ms) {
                c->pid = spawn(l, i, c->node);
                c->started_ms = sf_monotonic_ms();
            }
        }
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

static int numa_nodes(void)
{
    wk_topology *t = NULL;
    char err[256];
    if (wk_topology_load(NULL, &t, err, sizeof err) != SF_OK)
        return 1;
    int n = (int)wk_topology_nodes(t);
    wk_topology_free(&t);
    return n > 0 ? n : 1;
}

static char *dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

sf_rc fleet_local_start(const fleet_local_config *cfg, fleet_local **out, char *err, size_t errlen)
{
    *out = NULL;
    fleet_local *l = calloc(1, sizeof *l);
    if (!l)
        return SF_ENOMEM;
    sf_rc rc = find_bin(cfg, l->bin, sizeof l->bin, err, errlen);
    if (rc != SF_OK) {
        free(l);
        return rc;
    }
    l->endpoint = strdup(cfg->endpoint);
    l->functions_dir = dup_or_null(cfg->functions_dir);
    l->data_root = dup_or_null(cfg->data_root);
    l->quiet = cfg->quiet;
    int nodes = cfg->count > 0 ? cfg->count : numa_nodes();
    bool per_node = cfg->count <= 0;
    l->kids = calloc((size_t)nodes, sizeof *l->kids);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (!l->endpoint || !l->kids) {
        fleet_local_stop(&l);
        return SF_ENOMEM;
    }
    for (int i = 0; i < nodes; i++) {
        l->kids[i].node = per_node ? i : -1;
        l->kids[i].pid = spawn(l, i, l->kids[i].node);
        l->kids[i].started_ms = sf_monotonic_ms();
        l->n++;
        if (l->kids[i].pid < 0) {
            snprintf(err, errlen, "cannot start the local worker %s", l->bin);
            fleet_local_stop(&l);
            return SF_EIO;
        }
    }
    if (pthread_create(&l->minder, NULL, mind, l) != 0) {
        snprintf(err, errlen, "cannot start the thread minding local workers");
        l->minder = 0;
        fleet_local_stop(&l);
        return SF_EIO;
    }
    say(l, "started %d (%s)", nodes, per_node ? "one per NUMA node" : "as asked");
    *out = l;
    return SF_OK;
}

int fleet_local_count(const fleet_local *l)
{
    return l ? l->n : 0;
}

void fleet_local_stop(fleet_local **lp)
{
    fleet_local *l = *lp;
    if (!l)
        return;
    *lp = NULL;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_signal(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (l->minder)
        pthread_join(l->minder, NULL);
    for (int i = 0; i < l->n; i++)
        if (l->kids[i].pid > 0)
            kill(l->kids[i].pid, SIGTERM);
    for (int i = 0; i < l->n; i++) {
        child *c = &l->kids[i];
        for (int waited = 0; c->pid > 0 && waited < 3000; waited += 20) {
            if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
                c->pid = 0;
            else
                usleep(20000);
        }
        if (c->pid > 0) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, NULL, 0);
        }
    }
    free(l->kids);
    free(l->endpoint);
    free(l->functions_dir);
    free(l->data_root);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    free(l);
}
