/* common/sf_curve.h - CURVE keys for the fleet sockets (CZMQ zcert, zauth).
 *
 * A key pair lives in two files, as CZMQ writes them: NAME (the public
 * key, shareable) and NAME_secret (both keys, owner-only). A coordinator
 * trusts the workers whose public key files sit in its authorised-keys
 * directory; a worker trusts the coordinator whose public key file it is
 * given. Secret files readable by group or others are refused, naming the
 * file and its mode. */
#ifndef SF_CURVE_H
#define SF_CURVE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/sf_rc.h"

/* Writes a new key pair to path (public) and path_secret (mode 0600);
 * refuses to overwrite either. */
sf_rc sf_curve_keygen(const char *path, char *err, size_t errlen);

/* Loads a secret key file (checking its mode) or a public one. */
sf_rc sf_curve_load_secret(const char *path, zcert_t **out, char *err, size_t errlen);
sf_rc sf_curve_load_public(const char *path, zcert_t **out, char *err, size_t errlen);

/* Server side: starts zauth (one per process) trusting the public keys in
 * authorised_dir and makes sock a CURVE server with cert. Every refused
 * worker is logged on stderr with its address and why. *auth must be
 * destroyed (zactor_destroy) after the socket. Call before binding. */
sf_rc sf_curve_server(zsock_t *sock, zcert_t *cert, const char *authorised_dir, zactor_t **auth,
                      char *err, size_t errlen);

/* Client side: makes sock a CURVE client with cert, trusting server.
 * Call before connecting. */
sf_rc sf_curve_client(zsock_t *sock, zcert_t *cert, const zcert_t *server, char *err,
                      size_t errlen);

/* Whether an endpoint ("tcp://127.0.0.1:5555", "ipc://...", "inproc://...")
 * stays on this machine: loopback, ipc and inproc do; anything else
 * (including the tcp wildcard host "*") does not, and gets CURVE by
 * default. */
bool sf_endpoint_is_local(const char *endpoint);

#endif
