/* tests/fuzz/fuzz_fleet_msg.c - libFuzzer harness for fleet_msg_decode.
 *
 * Input: one frame as it would arrive from a peer, any bytes at all.
 * Checks the decode contract: a refusal leaves the message cleared with a
 * NUL-terminated reason; an acceptance satisfies fleet_msg_check, and its
 * round trip is stable: encode, decode again, and the two messages are
 * equal and their encodings byte for byte the same. A decoded message is
 * also offered to a fresh order checker from each side, which must answer
 * without crashing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/fleet_msg.h"
#include "proto/fleet_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
    if (!ok)
        abort();
}

static void offer_to_session(fleet_side side, const fleet_msg *m)
{
    fleet_session s;
    fleet_session_init(&s);
    char err[256];
    sf_rc rc = fleet_session_accept(&s, side, m, err, sizeof err);
    check(rc == SF_OK || rc == SF_ESTATE);
    check(memchr(err, '\0', sizeof err) != NULL);
    fleet_session_cleanup(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fleet_msg m;
    char err[256];
    memset(err, 'x', sizeof err);
    sf_rc rc = fleet_msg_decode(data, size, &m, err, sizeof err);
    check(memchr(err, '\0', sizeof err) != NULL);
    if (rc != SF_OK) {
        check(m.type == FLEET_NONE);
        check(err[0] != '\0'); /* every refusal says why */
        return 0;
    }
    check(fleet_msg_check(&m, NULL, 0) == SF_OK);

    msgpack_sbuffer first, second;
    msgpack_sbuffer_init(&first);
    msgpack_sbuffer_init(&second);
    check(fleet_msg_encode(&m, &first) == SF_OK);
    check(first.size <= FLEET_FRAME_MAX);

    fleet_msg again;
    check(fleet_msg_decode(first.data, first.size, &again, err, sizeof err) == SF_OK);
    check(fleet_msg_equal(&m, &again));
    check(fleet_msg_encode(&again, &second) == SF_OK);
    check(first.size == second.size && memcmp(first.data, second.data, first.size) == 0);

    offer_to_session(FLEET_FROM_WORKER, &m);
    offer_to_session(FLEET_FROM_COORDINATOR, &m);

    fleet_msg_clear(&again);
    fleet_msg_clear(&m);
    msgpack_sbuffer_destroy(&first);
    msgpack_sbuffer_destroy(&second);
    return 0;
}
