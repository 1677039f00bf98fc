/* proto/fleet_wire.h - internal to proto/: the field names on the wire and
 * the error helper shared by the check, the encoder and the decoder.
 *
 * Field names are short because every message carries them; the encoder,
 * the decoder and error messages all spell them from here so they cannot
 * drift. Not for use outside proto/. */
#ifndef FLEET_WIRE_H
#define FLEET_WIRE_H

#include <stddef.h>

#include "common/sf_rc.h"

#define FLEET_KEY_VERSION "v"
#define FLEET_KEY_TYPE "t"
#define FLEET_KEY_ID "id" /* worker id in hello; task id elsewhere */
#define FLEET_KEY_SW_VERSION "ver"
#define FLEET_KEY_KERNELS "kern" /* hello: array; task: one name */
#define FLEET_KEY_CORES "cores"
#define FLEET_KEY_NUMA "numa"
#define FLEET_KEY_MEMORY "mem"
#define FLEET_KEY_GPUS "gpus"
#define FLEET_KEY_NAME "name"
#define FLEET_KEY_MAX_TASKS "max"
#define FLEET_KEY_HEARTBEAT_MS "hb"
#define FLEET_KEY_SESSION "sid"
#define FLEET_KEY_REASON "why"
#define FLEET_KEY_SEQ "seq"
#define FLEET_KEY_LOAD "load"
#define FLEET_KEY_ATTEMPT "att"
#define FLEET_KEY_RESOURCE "res"
#define FLEET_KEY_INPUT "in"
#define FLEET_KEY_TIMEOUT_MS "tmo"
#define FLEET_KEY_REQUIREMENTS "req"
#define FLEET_KEY_GPU "gpu"
#define FLEET_KEY_FRACTION "frac"
#define FLEET_KEY_RECORDS "rec"
#define FLEET_KEY_EPOCH "ep"
#define FLEET_KEY_METRICS "met"
#define FLEET_KEY_OUTPUT "out"
#define FLEET_KEY_ERROR "err"
#define FLEET_KEY_CAUSE "cause"

/* Formats a message into err (when err is non-NULL and errlen > 0) and
 * returns rc, so a failing path reads `return fleet__fail(...)`. */
sf_rc fleet__fail(char *err, size_t errlen, sf_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
