/* tests/kernels/test_model.c - model.tar.gz and model_algo-1: round trip, and every corruption
 * refused.
 *
 * The model under test is a small linear-learner built by hand (no
 * training), so each test knows every byte that should come back. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_tar.h"
#include "kernels/linear/linear.h"

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/test_model_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void remove_dir(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(model, .init = make_dir, .fini = remove_dir);

/* A binary linear-learner over 3 features: w = (1, 2, 3), b = 0.5. */
static kn_model *hand_model(void)
{
    const kn_algo *a = kn_algo_find("linear-learner");
    kn_model *m = calloc(1, sizeof *m);
    json_t *hp = json_pack("{s:s, s:s}", "predictor_type", "binary_classifier", "epochs", "7");
    kn_err e;
    cr_assert_eq(kn_hp_parse(a->hyper, a->nhyper, hp, &m->hp, &e), SF_OK, "%s", e.msg);
    json_decref(hp);
    ll_state *s = calloc(1, sizeof *s);
    s->kind = LL_BINARY;
    s->loss = LL_LOGISTIC;
    s->d = 3;
    s->k = 1;
    s->w = malloc(3 * sizeof(float));
    s->b = malloc(sizeof(float));
    s->w[0] = 1, s->w[1] = 2, s->w[2] = 3;
    s->b[0] = 0.5f;
    s->threshold = 0.25f;
    m->algo = a;
    m->feature_dim = 3;
    m->state = s;
    return m;
}

static void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

/* The bare model_algo-1 bytes of the hand model (malloc'd). */
static unsigned char *bare_bytes(size_t *len)
{
    kn_model *m = hand_model();
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    kn_model_free(&m);
    char p[128];
    path_of(p, sizeof p, "model.tar.gz");
    unsigned char *tar;
    size_t tlen;
    cr_assert_eq(kn_file_read_gz(p, &tar, &tlen, &e), SF_OK, "%s", e.msg);
    const unsigned char *data;
    size_t n;
    cr_assert_eq(kn_tar_find(tar, tlen, "model_algo-1", &data, &n, &e), SF_OK, "%s", e.msg);
    unsigned char *out = malloc(n);
    memcpy(out, data, n);
    free(tar);
    *len = n;
    return out;
}

static void write_file(const char *name, const void *p, size_t n)
{
    char path[128];
    path_of(path, sizeof path, name);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static sf_rc load(const char *name, kn_model **m, kn_err *e)
{
    char path[128];
    path_of(path, sizeof path, name);
    return kn_model_load(path, m, e);
}

Test(model, round_trips_through_model_tar_gz)
{
    kn_model *m = hand_model(), *back;
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    cr_assert_eq(load("model.tar.gz", &back, &e), SF_OK, "%s", e.msg);
    const ll_state *s = back->state;
    cr_assert_str_eq(back->algo->name, "linear-learner");
    cr_assert_eq(back->feature_dim, 3);
    cr_assert_eq(kn_hp_int(&back->hp, "epochs"), 7);
    cr_assert_eq(s->w[0], 1);
    cr_assert_eq(s->w[2], 3);
    cr_assert_eq(s->b[0], 0.5f);
    cr_assert_eq(s->threshold, 0.25f);
    kn_model_free(&m);
    kn_model_free(&back);
    cr_assert_null(back);
    kn_model_free(&back); /* NULL-safe */
}

Test(model, is_a_tarball_that_tar_can_read)
{
    kn_model *m = hand_model();
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    kn_model_free(&m);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "tar -tzf %s/model.tar.gz | grep -qx model_algo-1", dir);
    cr_assert_eq(system(cmd), 0, "tar lists model_algo-1");
}

Test(model, saves_atomically_leaving_no_temporary_file)
{
    kn_model *m = hand_model();
    kn_err e;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/a/b/output", dir); /* created as needed */
    cr_assert_eq(kn_model_save(m, sub, &e), SF_OK, "%s", e.msg);
    cr_assert_eq(kn_model_save(m, sub, &e), SF_OK, "overwrites: %s", e.msg);
    kn_model_free(&m);
    DIR *d = opendir(sub);
    cr_assert_not_null(d);
    struct dirent *de;
    size_t files = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.' || strncmp(de->d_name, ".model", 6) == 0) {
            files++;
            cr_assert_str_eq(de->d_name, "model.tar.gz");
        }
    closedir(d);
    cr_assert_eq(files, 1);
}

Test(model, reads_a_bare_model_algo_1)
{
    size_t n;
    unsigned char *b = bare_bytes(&n);
    write_file("model_algo-1", b, n);
    kn_model *m;
    kn_err e;
    cr_assert_eq(load("model_algo-1", &m, &e), SF_OK, "%s", e.msg);
    kn_model_free(&m);
    free(b);
}

Test(model, refuses_a_bad_magic)
{
    size_t n;
    unsigned char *b = bare_bytes(&n);
    b[0] = 'X';
    write_file("bad", b, n);
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(load("bad", &m, &e), SF_EINVAL);
    cr_assert(strstr(e.msg, "ClientError: model_algo-1 is not a statefleet model (bad magic"), "%s",
              e.msg);
    cr_assert_null(m);
    free(b);
}

Test(model, refuses_a_newer_version)
{
    size_t n;
    unsigned char *b = bare_bytes(&n);
    b[8] = 2; /* the version, little-endian, after the 8-byte magic */
    write_file("newer", b, n);
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(load("newer", &m, &e), SF_EUNSUPPORTED);
    cr_assert_str_eq(e.msg, "ClientError: model_algo-1 has format version 2, newer than this "
                            "build reads (1)");
    free(b);
}

Test(model, refuses_every_truncation_saying_where)
{
    size_t n;
    unsigned char *b = bare_bytes(&n);
    for (size_t cut = 0; cut < n; cut++) {
        write_file("short", b, cut);
        kn_model *m = NULL;
        kn_err e = {{0}};
        cr_assert_neq(load("short", &m, &e), SF_OK, "cut at %zu loaded", cut);
        cr_assert_null(m);
        if (cut >= 8)
            cr_assert(strstr(e.msg, "ClientError: model_algo-1 is truncated at byte"),
                      "cut at %zu: %s", cut, e.msg);
    }
    free(b);
}

Test(model, refuses_a_flipped_bit)
{
    size_t n;
    unsigned char *b = bare_bytes(&n);
    b[n - 6] ^= 0x40; /* inside the threshold float, before the 4-byte CRC */
    write_file("flipped", b, n);
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(load("flipped", &m, &e), SF_EINVAL);
    cr_assert(strstr(e.msg, "ClientError: model_algo-1 is corrupt (checksum"), "%s", e.msg);
    free(b);
}

/* linear-learner's save, less its weights */
static sf_rc save_without_w(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    const ll_state *s = m->state;
    sf_rc rc = kn_mw_str(w, "loss", "logistic", err);
    if (rc == SF_OK)
        rc = kn_mw_int(w, "num_scores", 1, err);
    if (rc == SF_OK)
        rc = kn_mw_floats(w, "b", s->b, 1, err);
    return rc ? rc : kn_mw_floats(w, "threshold", &s->threshold, 1, err);
}

Test(model, refuses_a_missing_entry_by_name)
{
    kn_model *m = hand_model();
    kn_algo fake = *m->algo; /* same name, so the real one loads it */
    fake.save = save_without_w;
    m->algo = &fake;
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    m->algo = kn_algo_find("linear-learner");
    kn_model_free(&m);
    cr_assert_eq(load("model.tar.gz", &m, &e), SF_ENOTFOUND);
    cr_assert_str_eq(e.msg, "ClientError: model_algo-1 has no entry 'w'");
}

static sf_rc save_wrong_kind(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    (void)m;
    return kn_mw_int(w, "loss", 3, err);
}

Test(model, refuses_an_entry_of_the_wrong_kind)
{
    kn_model *m = hand_model();
    kn_algo fake = *m->algo;
    fake.save = save_wrong_kind;
    m->algo = &fake;
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    m->algo = kn_algo_find("linear-learner");
    kn_model_free(&m);
    cr_assert_eq(load("model.tar.gz", &m, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: model_algo-1 entry 'loss' is an int64, not a string");
}

static sf_rc save_twice(const kn_model *m, kn_model_writer *w, kn_err *err)
{
    (void)m;
    sf_rc rc = kn_mw_int(w, "x", 1, err);
    return rc ? rc : kn_mw_int(w, "x", 2, err);
}

Test(model, refuses_to_write_a_name_twice)
{
    kn_model *m = hand_model();
    kn_algo fake = *m->algo;
    fake.save = save_twice;
    m->algo = &fake;
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "AlgorithmError: model entry 'x' written twice");
    m->algo = kn_algo_find("linear-learner");
    kn_model_free(&m);
    cr_assert_neq(access("model.tar.gz", F_OK), 0, "nothing written");
}

Test(model, refuses_a_tarball_without_the_model)
{
    int fd = open("/tmp", O_RDONLY);
    close(fd);
    char path[128];
    path_of(path, sizeof path, "other.tar.gz");
    fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    kn_err e;
    cr_assert_eq(kn_tar_write_gz(fd, "xgboost-model", "abc", 3, &e), SF_OK, "%s", e.msg);
    close(fd);
    kn_model *m = NULL;
    cr_assert_eq(load("other.tar.gz", &m, &e), SF_ENOTFOUND);
    cr_assert_str_eq(e.msg, "ClientError: model.tar.gz holds no model_algo-1");
}

Test(model, refuses_a_truncated_gzip)
{
    kn_model *m = hand_model();
    kn_err e;
    cr_assert_eq(kn_model_save(m, dir, &e), SF_OK, "%s", e.msg);
    kn_model_free(&m);
    char path[128];
    path_of(path, sizeof path, "model.tar.gz");
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(truncate(path, st.st_size / 2), 0);
    cr_assert_neq(kn_model_load(path, &m, &e), SF_OK);
    cr_assert(strstr(e.msg, "truncated"), "%s", e.msg);
    cr_assert_null(m);
}

Test(model, refuses_a_missing_file)
{
    kn_model *m = NULL;
    kn_err e;
    cr_assert_eq(load("nope.tar.gz", &m, &e), SF_ENOTFOUND);
    cr_assert(strstr(e.msg, "ClientError: cannot open model"), "%s", e.msg);
}
