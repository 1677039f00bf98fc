/* tests/fleet/test_curve.c - CURVE key files and real CURVE sockets on
 * loopback: who gets through, who does not, and what the log says. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sf_curve.h"

static char tmpdir[64];

static void make_tmpdir(void)
{
    snprintf(tmpdir, sizeof tmpdir, "/tmp/sf_curve_XXXXXX");
    cr_assert_not_null(mkdtemp(tmpdir));
}

static void remove_tmpdir(void)
{
    zdir_t *d = zdir_new(tmpdir, NULL);
    if (d)
        zdir_remove(d, true);
    zdir_destroy(&d);
}

TestSuite(curve, .init = make_tmpdir, .fini = remove_tmpdir);

static char *path_in(const char *name)
{
    char *p = zsys_sprintf("%s/%s", tmpdir, name);
    cr_assert_not_null(p);
    return p;
}

static mode_t mode_of(const char *path)
{
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "stat %s", path);
    return st.st_mode & 07777;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "open %s", path);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strdup(buf);
}

static void copy_file(const char *from, const char *to)
{
    char *text = slurp(from);
    FILE *f = fopen(to, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
}

/* Makes a key pair NAME in tmpdir and loads its secret half. */
static zcert_t *new_key(const char *name)
{
    char *pub = path_in(name);
    char *sec = zsys_sprintf("%s_secret", pub);
    char err[512] = "";
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_OK, "%s", err);
    zcert_t *c = NULL;
    cr_assert_eq(sf_curve_load_secret(sec, &c, err, sizeof err), SF_OK, "%s", err);
    zstr_free(&pub);
    zstr_free(&sec);
    return c;
}

Test(curve, keygen_writes_a_public_file_and_an_owner_only_secret)
{
    char *pub = path_in("w1"), *sec = path_in("w1_secret");
    char err[512] = "";
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(mode_of(sec), 0600, "secret mode %04o", (unsigned)mode_of(sec));
    cr_assert_eq(mode_of(pub), 0644);

    zcert_t *s = NULL, *p = NULL;
    cr_assert_eq(sf_curve_load_secret(sec, &s, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(sf_curve_load_public(pub, &p, err, sizeof err), SF_OK, "%s", err);
    cr_assert_str_eq(zcert_public_txt(s), zcert_public_txt(p));
    cr_assert_str_eq(zcert_meta(s, "name"), "w1");
    cr_assert_str_eq(zcert_meta(p, "created-by"), "statefleet");
    /* The public file must not carry the secret. */
    char *text = slurp(pub);
    cr_assert_null(strstr(text, zcert_secret_txt(s)));
    free(text);
    /* No temporary files are left behind. */
    zdir_t *d = zdir_new(tmpdir, NULL);
    cr_assert_eq(zdir_count(d), 2);
    zdir_destroy(&d);
    zcert_destroy(&s);
    zcert_destroy(&p);
    zstr_free(&pub);
    zstr_free(&sec);
}

Test(curve, keygen_refuses_to_overwrite_either_file)
{
    char *pub = path_in("w1"), *sec = path_in("w1_secret");
    char err[512] = "";
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_OK, "%s", err);
    char *before = slurp(sec);
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_ESTATE);
    cr_assert_not_null(strstr(err, pub), "%s", err);
    cr_assert_not_null(strstr(err, "refusing to overwrite"), "%s", err);
    char *after = slurp(sec);
    cr_assert_str_eq(before, after);

    /* A lone secret file is protected too, and named. */
    cr_assert_eq(unlink(pub), 0);
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_ESTATE);
    cr_assert_not_null(strstr(err, sec), "%s", err);
    cr_assert_eq(access(pub, F_OK), -1, "no public file may appear");
    free(before);
    free(after);
    zstr_free(&pub);
    zstr_free(&sec);
}

Test(curve, refuses_a_secret_readable_by_others_naming_file_and_mode)
{
    char *pub = path_in("w1"), *sec = path_in("w1_secret");
    char err[512] = "";
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(chmod(sec, 0644), 0);
    zcert_t *c = NULL;
    cr_assert_eq(sf_curve_load_secret(sec, &c, err, sizeof err), SF_EINVAL);
    cr_assert_null(c);
    char *want = zsys_sprintf("key file %s has mode 0644: a secret key must be readable by its "
                              "owner only (chmod 600 %s)",
                              sec, sec);
    cr_assert_str_eq(err, want);
    zstr_free(&want);

    cr_assert_eq(chmod(sec, 0640), 0);
    cr_assert_eq(sf_curve_load_secret(sec, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "0640"), "%s", err);
    cr_assert_eq(chmod(sec, 0400), 0);
    cr_assert_eq(sf_curve_load_secret(sec, &c, err, sizeof err), SF_OK, "%s", err);
    zcert_destroy(&c);
    zstr_free(&pub);
    zstr_free(&sec);
}

Test(curve, refuses_a_public_file_loaded_as_secret)
{
    char *pub = path_in("w1");
    char err[512] = "";
    cr_assert_eq(sf_curve_keygen(pub, err, sizeof err), SF_OK, "%s", err);
    zcert_t *c = NULL;
    /* As written (0644) the mode alone refuses it ... */
    cr_assert_eq(sf_curve_load_secret(pub, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "mode 0644"), "%s", err);
    /* ... and owner-only it still holds no secret. */
    cr_assert_eq(chmod(pub, 0600), 0);
    cr_assert_eq(sf_curve_load_secret(pub, &c, err, sizeof err), SF_EINVAL);
    cr_assert_null(c);
    cr_assert_not_null(strstr(err, "holds no secret key"), "%s", err);
    cr_assert_not_null(strstr(err, pub), "%s", err);
    zstr_free(&pub);
}

Test(curve, refuses_missing_odd_and_damaged_key_files)
{
    char err[512] = "";
    zcert_t *c = NULL;
    char *missing = path_in("nope_secret");
    cr_assert_eq(sf_curve_load_secret(missing, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, missing), "%s", err);
    cr_assert_eq(sf_curve_load_public(missing, &c, err, sizeof err), SF_EINVAL);

    cr_assert_eq(chmod(tmpdir, 0700), 0);
    cr_assert_eq(sf_curve_load_secret(tmpdir, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "not a regular file"), "%s", err);

    char *junk = path_in("junk");
    FILE *f = fopen(junk, "w");
    fputs("curve\n    public-key = \"short\"\n", f);
    fclose(f);
    cr_assert_eq(sf_curve_load_public(junk, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "not a CURVE certificate"), "%s", err);

    /* A secret key beside someone else's public key. */
    zcert_t *a = zcert_new(), *b = zcert_new();
    char *mixed = path_in("mixed_secret");
    f = fopen(mixed, "w");
    fprintf(f, "curve\n    public-key = \"%s\"\n    secret-key = \"%s\"\n", zcert_public_txt(a),
            zcert_secret_txt(b));
    fclose(f);
    cr_assert_eq(chmod(mixed, 0600), 0);
    cr_assert_eq(sf_curve_load_secret(mixed, &c, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "does not match"), "%s", err);
    zcert_destroy(&a);
    zcert_destroy(&b);
    zstr_free(&missing);
    zstr_free(&junk);
    zstr_free(&mixed);
}

Test(curve, tells_local_endpoints_from_the_rest)
{
    static const struct {
        const char *ep;
        bool local;
    } cases[] = {
        {"ipc:///run/statefleet/fleet", true},
        {"inproc://fleet", true},
        {"tcp://127.0.0.1:5555", true},
        {"tcp://127.1.2.3:5555", true},
        {"tcp://127.0.0.1:*", true},
        {"tcp://localhost:5555", true},
        {"tcp://LOCALHOST:5555", true},
        {"tcp://[::1]:5555", true},
        {"tcp://[::ffff:127.0.0.1]:5555", true},
        {"tcp://*:5555", false},
        {"tcp://0.0.0.0:5555", false},
        {"tcp://[::]:5555", false},
        {"tcp://10.0.0.7:5555", false},
        {"tcp://128.0.0.1:5555", false},
        {"tcp://localhost.example.com:5555", false},
        {"tcp://eth0:5555", false},
        {"tcp://127.0.0.1", false},
        {"tcp://127.0.0.1:", false},
        {"tcp://127.0.0.1:55x", false},
        {"tcp://10.0.0.7;127.0.0.1:5555", false},
        {"tcp://:5555", false},
        {"udp://127.0.0.1:5555", false},
        {"pgm://127.0.0.1;239.192.1.1:5555", false},
        {"127.0.0.1:5555", false},
        {"", false},
        {NULL, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_expect_eq(sf_endpoint_is_local(cases[i].ep), cases[i].local, "%s",
                     cases[i].ep ? cases[i].ep : "(null)");
}

/* ---- real sockets ---- */

typedef struct server {
    zsock_t *router;
    zactor_t *auth;
    zcert_t *cert;
    char *authorised;
    int port;
} server;

/* A ROUTER with CURVE on 127.0.0.1, trusting the key files that the test
 * copies into tmpdir/authorised. */
static void server_start(server *s)
{
    s->cert = new_key("coordinator");
    s->authorised = path_in("authorised");
    cr_assert_eq(mkdir(s->authorised, 0700), 0);
    s->router = zsock_new(ZMQ_ROUTER);
    char err[512] = "";
    cr_assert_eq(sf_curve_server(s->router, s->cert, s->authorised, &s->auth, err, sizeof err),
                 SF_OK, "%s", err);
    cr_assert_not_null(s->auth);
    s->port = zsock_bind(s->router, "tcp://127.0.0.1:*");
    cr_assert_gt(s->port, 0);
    zsock_set_rcvtimeo(s->router, 1000);
}

static void server_stop(server *s)
{
    zsock_destroy(&s->router);
    zactor_destroy(&s->auth);
    zcert_destroy(&s->cert);
    zstr_free(&s->authorised);
}

/* A DEALER for a worker called name, CURVE with its own new key trusting
 * the coordinator's, authorised or not. */
static zsock_t *worker_connect(server *s, const char *name, bool authorised, zcert_t **key)
{
    zcert_t *cert = new_key(name);
    if (authorised) {
        char *from = path_in(name);
        char *to = zsys_sprintf("%s/%s.key", s->authorised, name);
        copy_file(from, to);
        zstr_free(&from);
        zstr_free(&to);
    }
    char *pub = path_in("coordinator");
    zcert_t *server_pub = NULL;
    char err[512] = "";
    cr_assert_eq(sf_curve_load_public(pub, &server_pub, err, sizeof err), SF_OK, "%s", err);
    zsock_t *d = zsock_new(ZMQ_DEALER);
    cr_assert_eq(sf_curve_client(d, cert, server_pub, err, sizeof err), SF_OK, "%s", err);
    zsock_set_rcvtimeo(d, 1000);
    cr_assert_eq(zsock_connect(d, "tcp://127.0.0.1:%d", s->port), 0);
    zcert_destroy(&server_pub);
    zstr_free(&pub);
    if (key)
        *key = cert;
    else
        zcert_destroy(&cert);
    return d;
}

/* Runs fn with stderr going to a file; returns what was written. */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
    char *log = path_in("stderr.log");
    fflush(stderr);
    int saved = dup(2);
    int fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0600);
    cr_assert(saved >= 0 && fd >= 0);
    dup2(fd, 2);
    close(fd);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char *text = slurp(log);
    zstr_free(&log);
    return text;
}

Test(curve, an_authorised_worker_exchanges_messages)
{
    server s = {0};
    server_start(&s);
    zcert_t *key = NULL;
    zsock_t *w = worker_connect(&s, "w1", true, &key);

    cr_assert_eq(zstr_send(w, "hello"), 0);
    zmsg_t *m = zmsg_recv(s.router);
    cr_assert_not_null(m, "the server received nothing");
    zframe_t *who = zmsg_pop(m);
    char *body = zmsg_popstr(m);
    cr_assert_str_eq(body, "hello");
    zstr_free(&body);
    zmsg_destroy(&m);

    zmsg_t *reply = zmsg_new();
    zmsg_append(reply, &who);
    zmsg_addstr(reply, "welcome");
    cr_assert_eq(zmsg_send(&reply, s.router), 0);
    char *got = zstr_recv(w);
    cr_assert_not_null(got, "the worker received nothing");
    cr_assert_str_eq(got, "welcome");
    zstr_free(&got);

    zsock_destroy(&w);
    zcert_destroy(&key);
    server_stop(&s);
}

Test(curve, the_server_sees_the_workers_key_as_its_user_id)
{
    server s = {0};
    server_start(&s);
    zcert_t *key = NULL;
    zsock_t *w = worker_connect(&s, "w1", true, &key);
    cr_assert_eq(zstr_send(w, "hello"), 0);
    zframe_t *id = zframe_recv(s.router);
    cr_assert_not_null(id);
    zframe_t *body = zframe_recv(s.router);
    cr_assert_not_null(body);
    const char *user = zframe_meta(body, "User-Id");
    cr_assert_not_null(user);
    cr_assert_str_eq(user, zcert_public_txt(key));
    zframe_destroy(&id);
    zframe_destroy(&body);
    zsock_destroy(&w);
    zcert_destroy(&key);
    server_stop(&s);
}

typedef struct attempt {
    server *s;
    const char *name;
    bool curve;
    char key[41];
} attempt;

/* One worker tries for a second; neither side may receive anything. */
static void try_to_get_through(void *arg)
{
    attempt *a = arg;
    zsock_t *w;
    if (a->curve) {
        zcert_t *key = NULL;
        w = worker_connect(a->s, a->name, false, &key);
        snprintf(a->key, sizeof a->key, "%s", zcert_public_txt(key));
        zcert_destroy(&key);
    } else {
        w = zsock_new(ZMQ_DEALER);
        zsock_set_rcvtimeo(w, 1000);
        cr_assert_eq(zsock_connect(w, "tcp://127.0.0.1:%d", a->s->port), 0);
    }
    zsock_set_sndtimeo(w, 0);
    zstr_send(w, "hello"); /* queued until a handshake that never succeeds */
    zmsg_t *m = zmsg_recv(a->s->router);
    cr_expect_null(m, "the server received a message from %s", a->name);
    zmsg_destroy(&m);
    char *got = zstr_recv(w);
    cr_expect_null(got, "%s received something", a->name);
    zstr_free(&got);
    zsock_destroy(&w);
}

Test(curve, an_unauthorised_worker_gets_nothing_and_is_logged)
{
    server s = {0};
    server_start(&s);
    attempt a = {.s = &s, .name = "intruder", .curve = true};
    char *log = capture_stderr(try_to_get_through, &a);
    char *want = zsys_sprintf("statefleet: refused a worker at 127.0.0.1: its CURVE key %s is "
                              "not authorised (no public key file for it in %s)\n",
                              a.key, s.authorised);
    cr_assert_not_null(strstr(log, want), "log was:\n%s", log);
    /* One line per refusal: each line is the whole message. */
    for (char *line = log; *line;) {
        char *nl = strchr(line, '\n');
        cr_assert_not_null(nl);
        cr_assert_eq(strncmp(line, want, (size_t)(nl - line + 1)), 0, "odd line in:\n%s", log);
        line = nl + 1;
    }
    zstr_free(&want);
    free(log);

    /* The refusal is about the key, not the server: an authorised worker
     * still gets through afterwards. */
    zsock_t *w = worker_connect(&s, "w1", true, NULL);
    cr_assert_eq(zstr_send(w, "hello"), 0);
    zmsg_t *m = zmsg_recv(s.router);
    cr_assert_not_null(m);
    zmsg_destroy(&m);
    zsock_destroy(&w);
    server_stop(&s);
}

/* Keys are read from the directory as it is now, not as it was when the
 * server started: deleting a worker's file revokes it. */
Test(curve, deleting_a_workers_key_file_revokes_it_without_a_restart)
{
    server s = {0};
    server_start(&s);
    zcert_t *key = NULL;
    zsock_t *w = worker_connect(&s, "w1", true, &key);
    cr_assert_eq(zstr_send(w, "hello"), 0);
    zmsg_t *m = zmsg_recv(s.router);
    cr_assert_not_null(m, "the worker was not let in before revocation");
    zmsg_destroy(&m);
    zsock_destroy(&w);

    char *file = zsys_sprintf("%s/w1.key", s.authorised);
    cr_assert_eq(unlink(file), 0);
    char *pub = path_in("coordinator");
    zcert_t *server_pub = NULL;
    char err[512] = "";
    cr_assert_eq(sf_curve_load_public(pub, &server_pub, err, sizeof err), SF_OK, "%s", err);
    w = zsock_new(ZMQ_DEALER);
    cr_assert_eq(sf_curve_client(w, key, server_pub, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(zsock_connect(w, "tcp://127.0.0.1:%d", s.port), 0);
    zsock_set_sndtimeo(w, 0);
    zstr_send(w, "hello again");
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2); /* the refusal line is checked elsewhere */
    m = zmsg_recv(s.router);
    dup2(saved, 2);
    close(saved);
    close(null);
    cr_assert_null(m, "a revoked worker got through");
    zsock_destroy(&w);
    zcert_destroy(&server_pub);
    zcert_destroy(&key);
    zstr_free(&pub);
    zstr_free(&file);
    server_stop(&s);
}

Test(curve, a_worker_without_curve_gets_nothing)
{
    server s = {0};
    server_start(&s);
    attempt a = {.s = &s, .name = "plain", .curve = false};
    char *log = capture_stderr(try_to_get_through, &a);
    /* It fails the handshake before any ZAP request: nothing to log. */
    cr_assert_null(strstr(log, "authorised"), "log was:\n%s", log);
    free(log);
    server_stop(&s);
}

Test(curve, a_second_authenticator_in_one_process_is_refused)
{
    server s = {0};
    server_start(&s);
    zsock_t *other = zsock_new(ZMQ_ROUTER);
    zactor_t *auth = NULL;
    char err[512] = "";
    cr_assert_eq(sf_curve_server(other, s.cert, s.authorised, &auth, err, sizeof err), SF_ESTATE);
    cr_assert_null(auth);
    cr_assert_not_null(strstr(err, "already runs"), "%s", err);
    zsock_destroy(&other);
    server_stop(&s);
}

Test(curve, server_refuses_a_missing_or_odd_authorised_dir)
{
    zcert_t *cert = new_key("coordinator");
    zsock_t *r = zsock_new(ZMQ_ROUTER);
    zactor_t *auth = NULL;
    char err[512] = "";
    char *missing = path_in("no-such-dir");
    cr_assert_eq(sf_curve_server(r, cert, missing, &auth, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, missing), "%s", err);
    cr_assert_null(auth);
    char *file = path_in("coordinator");
    cr_assert_eq(sf_curve_server(r, cert, file, &auth, err, sizeof err), SF_EINVAL);
    cr_assert_not_null(strstr(err, "is not a directory"), "%s", err);

    /* A public-only key cannot serve. */
    zcert_t *pub = NULL;
    cr_assert_eq(sf_curve_load_public(file, &pub, err, sizeof err), SF_OK, "%s", err);
    cr_assert_eq(sf_curve_server(r, pub, tmpdir, &auth, err, sizeof err), SF_EINVAL);
    cr_assert_null(auth);
    zcert_destroy(&pub);
    zsock_destroy(&r);
    zcert_destroy(&cert);
    zstr_free(&missing);
    zstr_free(&file);
}
