/* tests/fuzz/fuzz_service_ops.c - any operation with any request body.
 *
 * Input: an operation name, a newline, then the request as JSON. The
 * harness runs it against one coordinator (a temporary database with
 * synchronous=OFF) that lives for the whole run, so requests build on
 * each other: a fuzzer that creates a machine can then start it, stop it,
 * list it. Whatever comes in, the service must answer with a status and a
 * body (an AWS error when it refuses), and never crash. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "coordinator/service/service.h"

static svc *service;
static char dir[64];

static void close_service(void)
{
    svc_close(&service);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "fuzz_service_ops: could not remove %s\n", dir);
}

static void open_service(void)
{
    snprintf(dir, sizeof dir, "/tmp/sf_fuzz_ops.XXXXXX");
    if (!mkdtemp(dir))
        abort();
    char db[128];
    snprintf(db, sizeof db, "%s/db", dir);
    /* One-second long polls keep GetActivityTask from stalling the run. */
    svc_config cfg = {.db_path = db, .sync = STORE_SYNC_OFF, .quiet = true, .poll_seconds = 1};
    char err[256];
    if (svc_open(&cfg, &service, err, sizeof err) != SF_OK) {
        fprintf(stderr, "fuzz_service_ops: %s\n", err);
        abort();
    }
    atexit(close_service);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!service)
        open_service();
    const uint8_t *nl = memchr(data, '\n', size);
    if (!nl || nl - data > 64)
        return 0;
    char op[65];
    memcpy(op, data, (size_t)(nl - data));
    op[nl - data] = '\0';
    /* GetActivityTask may wait for its poll; fine for seeds, but a fuzzer
     * would spend its time asleep. */
    if (strcmp(op, "GetActivityTask") == 0 && getenv("SF_FUZZ_NO_POLL"))
        return 0;
    json_t *req = json_loadb((const char *)nl + 1, size - (size_t)(nl + 1 - data), 0, NULL);
    if (!req)
        return 0;
    json_t *resp = NULL;
    int status = svc_call(service, op, req, &resp);
    if (status < 200 || status > 599 || !resp)
        abort();
    if (status != 200 && !json_is_string(json_object_get(resp, "__type")))
        abort(); /* every refusal names itself */
    json_decref(resp);
    json_decref(req);
    return 0;
}
