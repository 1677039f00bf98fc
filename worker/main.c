/* worker/main.c - statefleet-worker: runs Task states for a coordinator.
 *
 *   statefleet-worker --coordinator ENDPOINT [--id ID] [--functions DIR]
 *       [--data-root DIR] [--topology SPEC] [--numa-node N] [--max N]
 *       [--no-bind] [--key FILE --server-key FILE] [--progress-hz N]
 *       [--heartbeat-grace N] [--retry-refused] [--quiet]
 *
 * Exit 0 after SIGTERM or SIGINT (running tasks cancelled and answered),
 * 1 when it cannot start, 2 on bad usage, 3 when the coordinator refused
 * it (retrying would not change that, unless --retry-refused). */
#define _GNU_SOURCE
#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/sf_curve.h"
#include "proto/fleet_msg.h"
#include "worker/agent.h"
#include "worker/topology.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: statefleet-worker --coordinator ENDPOINT [options]\n"
            "  --coordinator ENDPOINT  where the coordinator's fleet socket listens\n"
            "                          (tcp://HOST:PORT, ipc://PATH)\n"
            "  --id ID                 worker id (default: the host name, plus -nodeN\n"
            "                          with --numa-node)\n"
            "  --functions DIR         run Lambda-style functions from DIR (kernel lambda:NAME)\n"
            "  --data-root DIR         where s3://bucket/key resolves to DIR/bucket/key\n"
            "  --topology SPEC         synthetic:DESC or FILE.xml instead of this machine\n"
            "                          (implies --no-bind)\n"
            "  --numa-node N           serve only NUMA node N (one worker per node)\n"
            "  --max N                 tasks at once (default: the cores served)\n"
            "  --no-bind               do not pin executor threads to their cores\n"
            "  --key FILE              this worker's CURVE secret key file\n"
            "  --server-key FILE       the coordinator's CURVE public key file\n"
            "  --progress-hz N         progress reports per second per task (default 4;\n"
            "                          0: none)\n"
            "  --heartbeat-grace N     silent heartbeat periods before the coordinator counts\n"
            "                          as lost (default 3)\n"
            "  --retry-refused         after a refuse, back off and say hello again\n"
            "  --exit-with-parent      stop when the process that started this one dies\n"
            "                          (local workers of a coordinator)\n"
            "  --quiet                 log only problems\n"
            "  --help                  this text\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "statefleet-worker: %s\n(statefleet-worker --help lists the flags)\n", msg);
    return 2;
}

/* A whole number in [min, max], all of the text. */
static bool parse_uint(const char *s, unsigned long long min, unsigned long long max,
                       unsigned long long *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static wk_agent *volatile running; /* for the signal handler */

static void on_signal(int sig)
{
    if (running)
        wk_agent_stop(running); /* async-signal-safe */
}

enum {
    OPT_COORDINATOR = 256,
    OPT_ID,
    OPT_FUNCTIONS,
    OPT_DATA_ROOT,
    OPT_TOPOLOGY,
    OPT_NUMA_NODE,
    OPT_MAX,
    OPT_NO_BIND,
    OPT_KEY,
    OPT_SERVER_KEY,
    OPT_PROGRESS_HZ,
    OPT_GRACE,
    OPT_RETRY_REFUSED,
    OPT_EXIT_WITH_PARENT,
    OPT_QUIET,
    OPT_HELP
};

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"coordinator", required_argument, NULL, OPT_COORDINATOR},
        {"id", required_argument, NULL, OPT_ID},
        {"functions", required_argument, NULL, OPT_FUNCTIONS},
        {"data-root", required_argument, NULL, OPT_DATA_ROOT},
        {"topology", required_argument, NULL, OPT_TOPOLOGY},
        {"numa-node", required_argument, NULL, OPT_NUMA_NODE},
        {"max", required_argument, NULL, OPT_MAX},
        {"no-bind", no_argument, NULL, OPT_NO_BIND},
        {"key", required_argument, NULL, OPT_KEY},
        {"server-key", required_argument, NULL, OPT_SERVER_KEY},
        {"progress-hz", required_argument, NULL, OPT_PROGRESS_HZ},
        {"heartbeat-grace", required_argument, NULL, OPT_GRACE},
        {"retry-refused", no_argument, NULL, OPT_RETRY_REFUSED},
        {"exit-with-parent", no_argument, NULL, OPT_EXIT_WITH_PARENT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0}};
    wk_agent_config cfg = {.numa_node = -1, .bind = true, .progress_hz = 4};
    const char *topology = NULL, *key = NULL, *server_key = NULL;
    bool exit_with_parent = false;
    pid_t parent = getppid();
    unsigned long long v;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (c) {
        case OPT_COORDINATOR:
            cfg.coordinator = optarg;
            break;
        case OPT_ID:
            cfg.id = optarg;
            break;
        case OPT_FUNCTIONS:
            cfg.functions_dir = optarg;
            break;
        case OPT_DATA_ROOT:
            cfg.data_root = optarg;
            break;
        case OPT_TOPOLOGY:
            topology = optarg;
            break;
        case OPT_NUMA_NODE:
            if (!parse_uint(optarg, 0, INT_MAX, &v))
                return bad_usage("--numa-node %s: expected a node number (0, 1, ...)", optarg);
            cfg.numa_node = (int)v;
            break;
        case OPT_MAX:
            if (!parse_uint(optarg, 1, UINT32_MAX, &v))
                return bad_usage("--max %s: expected a whole number of tasks, at least 1", optarg);
            cfg.max_tasks = (uint32_t)v;
            break;
        case OPT_NO_BIND:
            cfg.bind = false;
            break;
        case OPT_KEY:
            key = optarg;
            break;
        case OPT_SERVER_KEY:
            server_key = optarg;
            break;
        case OPT_PROGRESS_HZ: {
            char *end;
            errno = 0;
            double hz = strtod(optarg, &end);
            if (errno || end == optarg || *end || !isfinite(hz) || hz < 0 || hz > 1000)
                return bad_usage("--progress-hz %s: expected reports per second, 0 to 1000",
                                 optarg);
            cfg.progress_hz = hz;
            break;
        }
        case OPT_GRACE:
            if (!parse_uint(optarg, 1, 1000, &v))
                return bad_usage("--heartbeat-grace %s: expected 1 to 1000 heartbeat periods",
                                 optarg);
            cfg.heartbeat_grace = (uint32_t)v;
            break;
        case OPT_RETRY_REFUSED:
            cfg.retry_refused = true;
            break;
        case OPT_EXIT_WITH_PARENT:
            exit_with_parent = true;
            break;
        case OPT_QUIET:
            cfg.quiet = true;
            break;
        case OPT_HELP:
            usage(stdout);
            return 0;
        case ':':
            return bad_usage("%s needs a value", argv[optind - 1]);
        default:
            return bad_usage("unknown flag %s", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (!cfg.coordinator || !cfg.coordinator[0])
        return bad_usage("--coordinator ENDPOINT is required (tcp://HOST:PORT)");
    if (!key != !server_key)
        return bad_usage("%s given without %s: CURVE needs this worker's secret key and the "
                         "coordinator's public key",
                         key ? "--key" : "--server-key", key ? "--server-key" : "--key");

    char id[FLEET_WORKER_ID_MAX + 1];
    if (!cfg.id) {
        char host[256] = "worker";
        if (gethostname(host, sizeof host) != 0 || !host[0])
            snprintf(host, sizeof host, "worker");
        host[sizeof host - 1] = '\0';
        if (cfg.numa_node >= 0)
            snprintf(id, sizeof id, "%.100s-node%d", host, cfg.numa_node);
        else
            snprintf(id, sizeof id, "%.128s", host);
        cfg.id = id;
    }

    /* CZMQ would otherwise install its own SIGINT/SIGTERM handlers. */
    zsys_handler_set(NULL);
    char err[512];
    wk_topology *topo = NULL;
    if (wk_topology_load(topology, &topo, err, sizeof err) != SF_OK) {
        fprintf(stderr, "statefleet-worker: --topology %s: %s\n",
                topology ? topology : "(this machine)", err);
        return topology ? 2 : 1;
    }
    if (!wk_topology_is_this_machine(topo))
        cfg.bind = false; /* a description cannot be pinned to */
    cfg.topology = topo;

    zcert_t *cert = NULL, *server = NULL;
    int status = 1;
    if (key && (sf_curve_load_secret(key, &cert, err, sizeof err) != SF_OK ||
                sf_curve_load_public(server_key, &server, err, sizeof err) != SF_OK)) {
        fprintf(stderr, "statefleet-worker: %s\n", err);
        goto out;
    }
    cfg.cert = cert;
    cfg.server_cert = server;

    wk_agent *agent = NULL;
    if (wk_agent_new(&cfg, &agent, err, sizeof err) != SF_OK) {
        fprintf(stderr, "statefleet-worker: %s\n", err);
        status = strncmp(err, "--", 2) == 0 ? 2 : 1;
        goto out;
    }
    char desc[256], kernels[1024];
    wk_topology_describe(topo, desc, sizeof desc);
    wk_agent_kernels(agent, kernels, sizeof kernels);
    if (!cfg.quiet)
        fprintf(stderr,
                "statefleet-worker %s: %s%s; kernels: %s; at most %u tasks at once; "
                "coordinator %s%s\n",
                cfg.id, desc, cfg.numa_node >= 0 ? " (serving one NUMA node)" : "", kernels,
                wk_agent_max_tasks(agent), cfg.coordinator, cert ? " (CURVE)" : "");

    running = agent;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A coordinator killed outright cannot stop its local workers; the
     * kernel tells them instead. The parent may already be gone by now. */
    if (exit_with_parent && (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != parent)) {
        fprintf(stderr, "statefleet-worker %s: the process that started it is gone\n", cfg.id);
        status = 0;
        running = NULL;
        wk_agent_destroy(&agent);
        goto out;
    }

    status = (int)wk_agent_run(agent);
    running = NULL;
    wk_agent_destroy(&agent);
out:
    zcert_destroy(&cert);
    zcert_destroy(&server);
    wk_topology_free(&topo);
    return status;
}
