/* common/sf_curve.c - CURVE key files and the fleet sockets' gatekeeper.
 *
 * Key files are CZMQ's ZPL certificates. Secret files are created 0600
 * from their first byte (never chmod'ed after the fact) and refused when
 * group or others can read them. The coordinator's refusals are decided and
 * logged by a small ZAP handler of ours (see "The gatekeeper" below); this
 * file must never log anything else, nor keep a secret key in memory longer
 * than the zcert that holds it. */
#define _GNU_SOURCE
#include "common/sf_curve.h"
#include "common/sf_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#define KEY_FILE_MAX 65536 /* a certificate is ~400 bytes; anything huge is not one */
#define Z85_KEY_LEN 40     /* a 32-byte key, Z85-armoured */
#define ZAP_ENDPOINT "inproc://zeromq.zap.01" /* fixed by RFC 27 */
#define ZAP_DOMAIN "statefleet"

static bool key_is_zero(const byte *key)
{
    byte any = 0;
    for (int i = 0; i < 32; i++)
        any |= key[i];
    return any == 0;
}

static bool curve_available(char *err, size_t errlen)
{
    if (zsys_has_curve())
        return true;
    sf_errf(err, errlen, SF_EUNSUPPORTED, "this libzmq was built without CURVE support");
    return false;
}

/* ------------------------------------------------------------------------
 * Writing key pairs
 * ---------------------------------------------------------------------- */

static sf_rc already_exists(const char *path, char *err, size_t errlen)
{
    return sf_errf(err, errlen, SF_ESTATE, "key file %s already exists: refusing to overwrite it",
                path);
}

/* Writes one half of cert to target without ever overwriting it and
 * without the file ever having a wider mode than `mode`: we create a
 * temporary file ourselves (mkstemp: 0600), let CZMQ fill it (fopen "w"
 * keeps an existing file's mode), then link() it into place, which fails
 * rather than replace a file that appeared meanwhile. No umask games: the
 * umask is process-wide and other threads may be creating files. */
static sf_rc write_key_file(zcert_t *cert, bool secret, const char *target, mode_t mode, char *err,
                            size_t errlen)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", target) >= (int)sizeof tmp)
        return sf_errf(err, errlen, SF_EINVAL, "key file path %s is too long", target);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return sf_errf(err, errlen, SF_EIO, "cannot create key file %s: %s", target, strerror(errno));
    int fchmod_rc = fchmod(fd, mode);
    int fchmod_errno = errno;
    close(fd);
    sf_rc rc = SF_OK;
    if (fchmod_rc != 0) {
        rc = sf_errf(err, errlen, SF_EIO, "cannot set mode %04o on %s: %s", (unsigned)mode, tmp,
                  strerror(fchmod_errno));
    } else if ((secret ? zcert_save_secret(cert, tmp) : zcert_save_public(cert, tmp)) != 0) {
        rc = sf_errf(err, errlen, SF_EIO, "cannot write key file %s (via %s)", target, tmp);
    } else if (link(tmp, target) != 0) {
        rc = errno == EEXIST ? already_exists(target, err, errlen)
                             : sf_errf(err, errlen, SF_EIO, "cannot create key file %s: %s", target,
                                    strerror(errno));
    }
    unlink(tmp);
    return rc;
}

static sf_rc refuse_existing(const char *path, char *err, size_t errlen)
{
    struct stat st;
    if (lstat(path, &st) == 0)
        return already_exists(path, err, errlen);
    if (errno != ENOENT)
        return sf_errf(err, errlen, SF_EIO, "cannot check key file %s: %s", path, strerror(errno));
    return SF_OK;
}

sf_rc sf_curve_keygen(const char *path, char *err, size_t errlen)
{
    if (!path || !*path)
        return sf_errf(err, errlen, SF_EINVAL, "no key file path given");
    if (!curve_available(err, errlen))
        return SF_EUNSUPPORTED;
    char secret_path[PATH_MAX];
    if (snprintf(secret_path, sizeof secret_path, "%s_secret", path) >= (int)sizeof secret_path)
        return sf_errf(err, errlen, SF_EINVAL, "key file path %s is too long", path);
    /* Checked up front for a clear message naming the file; link() below
     * still refuses if one appears in between. */
    sf_rc rc = refuse_existing(path, err, errlen);
    if (rc == SF_OK)
        rc = refuse_existing(secret_path, err, errlen);
    if (rc != SF_OK)
        return rc;

    zcert_t *cert = zcert_new();
    if (!cert)
        return sf_errf(err, errlen, SF_ENOMEM, "cannot generate a CURVE key pair");
    const char *slash = strrchr(path, '/');
    zcert_set_meta(cert, "name", "%s", slash ? slash + 1 : path);
    zcert_set_meta(cert, "created-by", "statefleet");

    /* Secret first: a public file without its secret is useless, the
     * reverse is merely incomplete and is undone below. */
    rc = write_key_file(cert, true, secret_path, 0600, err, errlen);
    if (rc == SF_OK) {
        rc = write_key_file(cert, false, path, 0644, err, errlen);
        if (rc != SF_OK)
            unlink(secret_path);
    }
    zcert_destroy(&cert);
    return rc;
}

/* ------------------------------------------------------------------------
 * Loading key files
 * ---------------------------------------------------------------------- */

/* Reads the file through one descriptor, so the mode we check is the mode
 * of the bytes we read (no stat-then-open race). zcert_load is not used:
 * it silently prefers PATH_secret over PATH, which would let a "public"
 * load read a secret file and a secret load read some other file. */
static sf_rc read_key_file(const char *path, bool secret, char **text, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return sf_errf(err, errlen, errno == ENOENT ? SF_EINVAL : SF_EIO,
                       "cannot open key file %s: %s", path, strerror(errno));
    struct stat st;
    sf_rc rc = SF_OK;
    if (fstat(fd, &st) != 0)
        rc = sf_errf(err, errlen, SF_EIO, "cannot stat key file %s: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = sf_errf(err, errlen, SF_EINVAL, "key file %s is not a regular file", path);
    else if (secret && (st.st_mode & 077))
        rc = sf_errf(err, errlen, SF_EINVAL,
                  "key file %s has mode %04o: a secret key must be readable by its owner only "
                  "(chmod 600 %s)",
                  path, (unsigned)(st.st_mode & 07777), path);
    else if (st.st_size > KEY_FILE_MAX)
        rc = sf_errf(err, errlen, SF_ELIMIT, "key file %s is %lld bytes: not a key file (at most %d)",
                  path, (long long)st.st_size, KEY_FILE_MAX);
    char *buf = NULL;
    if (rc == SF_OK && !(buf = malloc(KEY_FILE_MAX + 1)))
        rc = sf_errf(err, errlen, SF_ENOMEM, "out of memory reading key file %s", path);
    size_t len = 0;
    while (rc == SF_OK && len < KEY_FILE_MAX) {
        ssize_t n = read(fd, buf + len, KEY_FILE_MAX - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = sf_errf(err, errlen, SF_EIO, "cannot read key file %s: %s", path, strerror(errno));
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (rc != SF_OK) {
        if (buf)
            explicit_bzero(buf, KEY_FILE_MAX + 1);
        free(buf);
        return rc;
    }
    buf[len] = '\0';
    *text = buf;
    return SF_OK;
}

/* Decodes a Z85 key from the certificate's "curve" section; false if the
 * entry is absent or is not a 40-character Z85 string. */
static bool config_key(zconfig_t *root, const char *name, byte out[32])
{
    const char *txt = zconfig_get(root, name, NULL);
    return txt && strlen(txt) == Z85_KEY_LEN && zmq_z85_decode(out, txt) != NULL;
}

static sf_rc load_key(const char *path, bool secret, zcert_t **out, char *err, size_t errlen)
{
    if (!path || !out)
        return sf_errf(err, errlen, SF_EINVAL, "no key file path given");
    *out = NULL;
    if (!curve_available(err, errlen))
        return SF_EUNSUPPORTED;
    char *text = NULL;
    sf_rc rc = read_key_file(path, secret, &text, err, errlen);
    if (rc != SF_OK)
        return rc;
    zconfig_t *root = zconfig_str_load(text);
    explicit_bzero(text, strlen(text));
    free(text);
    byte pub[32] = {0}, sec[32] = {0};
    if (!root || !config_key(root, "curve/public-key", pub)) {
        rc = sf_errf(err, errlen, SF_EINVAL,
                  "key file %s is not a CURVE certificate (no valid curve/public-key)", path);
    } else if (secret) {
        char pub_txt[Z85_KEY_LEN + 1], derived[Z85_KEY_LEN + 1];
        if (!config_key(root, "curve/secret-key", sec) || key_is_zero(sec))
            rc = sf_errf(err, errlen, SF_EINVAL,
                      "key file %s holds no secret key (is it the public half? the secret "
                      "one is usually named %s_secret)",
                      path, path);
        /* A secret that does not derive the public key beside it would
         * fail every handshake later with no clue why; say so now. */
        else if (!zmq_z85_encode(pub_txt, pub, 32) ||
                 zmq_curve_public(derived, zconfig_get(root, "curve/secret-key", "")) != 0 ||
                 strcmp(derived, pub_txt) != 0)
            rc = sf_errf(err, errlen, SF_EINVAL,
                      "key file %s is damaged: its secret key does not match its public key", path);
    }
    if (rc == SF_OK && !(*out = zcert_new_from(pub, sec)))
        rc = sf_errf(err, errlen, SF_ENOMEM, "out of memory loading key file %s", path);
    if (rc == SF_OK) {
        /* Keep the metadata ("name", "created-by"): it names the peer in logs. */
        zconfig_t *meta = zconfig_locate(root, "metadata");
        for (zconfig_t *m = meta ? zconfig_child(meta) : NULL; m; m = zconfig_next(m))
            if (zconfig_name(m) && zconfig_value(m))
                zcert_set_meta(*out, zconfig_name(m), "%s", zconfig_value(m));
    }
    explicit_bzero(sec, sizeof sec);
    zconfig_destroy(&root);
    return rc;
}

sf_rc sf_curve_load_secret(const char *path, zcert_t **out, char *err, size_t errlen)
{
    return load_key(path, true, out, err, errlen);
}

sf_rc sf_curve_load_public(const char *path, zcert_t **out, char *err, size_t errlen)
{
    return load_key(path, false, out, err, errlen);
}

/* ------------------------------------------------------------------------
 * The gatekeeper
 *
 * Why not zauth itself: a refused worker must be logged in one line with
 * its address and the reason. zauth decides well but reports only through
 * VERBOSE zsys logging, which spreads one refusal over several lines (the
 * address on one, the key on another), interleaves every accepted request,
 * and goes wherever the process-wide zsys log settings send it. A socket
 * monitor's ZMQ_EVENT_HANDSHAKE_FAILED_AUTH is no better: it names the
 * listening endpoint and the ZAP status, never the peer's address. The ZAP
 * request itself carries both the address and the key, so the handler
 * that answers it is the one place that knows everything; this is that
 * handler, with zauth's CURVE policy: a zcertstore over the directory.
 * The store rereads the directory when its file count, total size or
 * mtime changes, so keys are added and revoked (by deleting the file)
 * without a restart; rewriting a file in place with one of the same size
 * within the same second may go unnoticed, so revoke by deleting.
 *
 * Like zauth it binds the context's one ZAP endpoint, hence one per
 * process. Accepted peers get their Z85 public key as the ZAP user id, so
 * the socket's messages carry it as their "User-Id" property.
 * ---------------------------------------------------------------------- */

typedef struct gate {
    zsock_t *handler; /* REP on the ZAP endpoint */
    zcertstore_t *store;
    char *dir;
} gate;

static void gate_cleanup(gate *g)
{
    zcertstore_destroy(&g->store);
    if (g->handler)
        zsock_unbind(g->handler, ZAP_ENDPOINT);
    zsock_destroy(&g->handler);
    zstr_free(&g->dir);
}

/* "START DIR": bind the ZAP endpoint and load the directory. Signals 0 on
 * success, 1 when the endpoint is taken (another handler in this process). */
static void gate_start(gate *g, zsock_t *pipe, zmsg_t *cmd)
{
    char *dir = zmsg_popstr(cmd);
    byte status = 1;
    if (dir && !g->handler) {
        g->handler = zsock_new(ZMQ_REP);
        if (g->handler && zsock_bind(g->handler, ZAP_ENDPOINT) == 0) {
            g->store = zcertstore_new(dir);
            g->dir = dir;
            dir = NULL;
            status = g->store ? 0 : 1;
        }
    }
    zstr_free(&dir);
    if (status != 0)
        gate_cleanup(g);
    zsock_signal(pipe, status);
}

static void gate_log_refusal(const gate *g, const char *address, const char *mechanism,
                             const char *key)
{
    const char *who = address && *address ? address : "an unknown address";
    if (key)
        fprintf(stderr,
                "statefleet: refused a worker at %s: its CURVE key %s is not authorised "
                "(no public key file for it in %s)\n",
                who, key, g->dir);
    else
        fprintf(stderr, "statefleet: refused a peer at %s: %s security is not accepted here\n", who,
                mechanism ? mechanism : "unknown");
}

/* Answers one ZAP request (RFC 27): version, request id, domain, address,
 * routing id, mechanism, then the mechanism's credentials. The reply must
 * always be sent, or the REP socket and the peer's handshake both stall. */
static void gate_answer(gate *g)
{
    zmsg_t *req = zmsg_recv(g->handler);
    if (!req)
        return;
    char *version = zmsg_popstr(req);
    zframe_t *request_id = zmsg_pop(req);
    char *domain = zmsg_popstr(req);
    char *address = zmsg_popstr(req);
    zframe_t *routing_id = zmsg_pop(req);
    char *mechanism = zmsg_popstr(req);
    zframe_t *cred = zmsg_pop(req);

    const char *status = "400", *text = "No access";
    char key[Z85_KEY_LEN + 1] = "";
    if (!version || strcmp(version, "1.0") != 0 || !request_id || !mechanism) {
        status = "500";
        text = "Malformed ZAP request";
    } else if (strcmp(mechanism, "CURVE") == 0) {
        if (cred && zframe_size(cred) == 32 && zmq_z85_encode(key, zframe_data(cred), 32) &&
            zcertstore_lookup(g->store, key)) {
            status = "200";
            text = "OK";
        } else {
            gate_log_refusal(g, address, mechanism, key[0] ? key : "(malformed)");
        }
    } else if (strcmp(mechanism, "NULL") == 0 && (!domain || strcmp(domain, ZAP_DOMAIN) != 0)) {
        /* Some other socket in this process that set a ZAP domain without
         * security: not ours to police (zauth lets these through too). */
        status = "200";
        text = "OK";
    } else {
        gate_log_refusal(g, address, mechanism, NULL);
    }

    zmsg_t *reply = zmsg_new();
    zmsg_addstr(reply, "1.0");
    if (request_id)
        zmsg_append(reply, &request_id);
    else
        zmsg_addstr(reply, "");
    zmsg_addstr(reply, status);
    zmsg_addstr(reply, text);
    zmsg_addstr(reply, strcmp(status, "200") == 0 ? key : "");
    zmsg_addmem(reply, NULL, 0); /* no metadata */
    zmsg_send(&reply, g->handler);

    zstr_free(&version);
    zframe_destroy(&request_id);
    zstr_free(&domain);
    zstr_free(&address);
    zframe_destroy(&routing_id);
    zstr_free(&mechanism);
    zframe_destroy(&cred);
    zmsg_destroy(&req);
}

static void gate_actor(zsock_t *pipe, void *unused)
{
    (void)unused;
    gate g = {0};
    zsock_signal(pipe, 0);
    zpoller_t *poller = zpoller_new(pipe, NULL);
    bool done = !poller;
    while (!done) {
        void *which = zpoller_wait(poller, -1);
        if (which == pipe) {
            zmsg_t *cmd = zmsg_recv(pipe);
            char *name = cmd ? zmsg_popstr(cmd) : NULL;
            if (!name || strcmp(name, "$TERM") == 0) {
                done = true;
            } else if (strcmp(name, "START") == 0) {
                gate_start(&g, pipe, cmd);
                if (g.handler && zpoller_add(poller, g.handler) != 0)
                    done = true;
            }
            zstr_free(&name);
            zmsg_destroy(&cmd);
        } else if (which && which == g.handler) {
            gate_answer(&g);
        } else if (zpoller_terminated(poller)) {
            done = true;
        }
    }
    zpoller_destroy(&poller);
    gate_cleanup(&g);
}

/* ------------------------------------------------------------------------
 * Sockets
 * ---------------------------------------------------------------------- */

sf_rc sf_curve_server(zsock_t *sock, zcert_t *cert, const char *authorised_dir, zactor_t **auth,
                      char *err, size_t errlen)
{
    if (!sock || !cert || !authorised_dir || !auth)
        return sf_errf(err, errlen, SF_EINVAL, "sf_curve_server: missing socket, key or directory");
    *auth = NULL;
    if (!curve_available(err, errlen))
        return SF_EUNSUPPORTED;
    if (key_is_zero(zcert_secret_key(cert)))
        return sf_errf(err, errlen, SF_EINVAL,
                    "the coordinator's key has no secret half (load its _secret file)");
    struct stat st;
    if (stat(authorised_dir, &st) != 0)
        return sf_errf(err, errlen, SF_EINVAL, "authorised-keys directory %s: %s", authorised_dir,
                    strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return sf_errf(err, errlen, SF_EINVAL, "authorised-keys directory %s is not a directory",
                    authorised_dir);

    zactor_t *gatekeeper = zactor_new(gate_actor, NULL);
    if (!gatekeeper)
        return sf_errf(err, errlen, SF_ENOMEM, "cannot start the CURVE gatekeeper thread");
    if (zstr_sendx(gatekeeper, "START", authorised_dir, NULL) != 0 || zsock_wait(gatekeeper) != 0) {
        zactor_destroy(&gatekeeper);
        return sf_errf(err, errlen, SF_ESTATE,
                    "cannot bind the ZAP endpoint %s: another authenticator (zauth or "
                    "sf_curve_server) already runs in this process",
                    ZAP_ENDPOINT);
    }
    zcert_apply(cert, sock);
    zsock_set_curve_server(sock, 1);
    zsock_set_zap_domain(sock, ZAP_DOMAIN);
    *auth = gatekeeper;
    return SF_OK;
}

sf_rc sf_curve_client(zsock_t *sock, zcert_t *cert, const zcert_t *server, char *err, size_t errlen)
{
    if (!sock || !cert || !server)
        return sf_errf(err, errlen, SF_EINVAL, "sf_curve_client: missing socket or key");
    if (!curve_available(err, errlen))
        return SF_EUNSUPPORTED;
    if (key_is_zero(zcert_secret_key(cert)))
        return sf_errf(err, errlen, SF_EINVAL,
                    "the worker's key has no secret half (load its _secret file)");
    zcert_apply(cert, sock);
    /* zcert_public_txt only reads; CZMQ just never declared it const. */
    zsock_set_curve_serverkey(sock, zcert_public_txt((zcert_t *)server));
    return SF_OK;
}

/* ------------------------------------------------------------------------
 * Endpoints
 * ---------------------------------------------------------------------- */

static bool host_is_loopback(const char *host)
{
    if (strcasecmp(host, "localhost") == 0)
        return true;
    struct in_addr a4;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    struct in6_addr a6;
    if (inet_pton(AF_INET6, host, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6) || (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    return false;
}

/* Conservative by design: false only costs a CURVE handshake, true on a
 * mistake would send the fleet's traffic unencrypted. So anything not
 * plainly loopback is false: wildcards, interface names ("tcp://lo:1"),
 * source-address forms ("tcp://a;b:1"), a missing or odd port. */
bool sf_endpoint_is_local(const char *endpoint)
{
    if (!endpoint)
        return false;
    if (strncmp(endpoint, "ipc://", 6) == 0 || strncmp(endpoint, "inproc://", 9) == 0)
        return true;
    if (strncmp(endpoint, "tcp://", 6) != 0)
        return false;
    const char *hp = endpoint + 6;
    const char *colon = strrchr(hp, ':');
    if (!colon || strchr(hp, ';'))
        return false;
    const char *port = colon + 1;
    if (strcmp(port, "*") != 0 && (!*port || strspn(port, "0123456789") != strlen(port)))
        return false;
    char host[INET6_ADDRSTRLEN + 2];
    size_t hlen = (size_t)(colon - hp);
    if (hlen >= 2 && hp[0] == '[' && hp[hlen - 1] == ']') {
        hp++;
        hlen -= 2;
    }
    if (hlen == 0 || hlen >= sizeof host)
        return false;
    memcpy(host, hp, hlen);
    host[hlen] = '\0';
    return host_is_loopback(host);
}
