/* tests/kernels/kernels_fixture.h - what every algorithm's tests do alike.
 *
 * Hyperparameters from a test's JSON, a refusal that must name what it
 * refuses, and a model's round trip through model.tar.gz. Test-only: it
 * asserts with Criterion (include it after <criterion/criterion.h>, with
 * _GNU_SOURCE defined for mkdtemp). Seeded data is bench/bench_data.h. */
#ifndef KERNELS_FIXTURE_H
#define KERNELS_FIXTURE_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kernels/kn_algo.h"
#include "kernels/kn_model.h"

/* Parses json (a test's own: it must be valid JSON) against a's table. */
static inline sf_rc fx_hp_parse(const kn_algo *a, const char *json, kn_hp *hp, kn_err *err)
{
    json_t *j = json_loads(json, 0, NULL);
    cr_assert_not_null(j, "bad test JSON %s", json);
    sf_rc rc = kn_hp_parse(a->hyper, a->nhyper, j, hp, err);
    json_decref(j);
    return rc;
}

/* The hyperparameters json gives a, which must accept them. */
static inline kn_hp fx_hp(const kn_algo *a, const char *json)
{
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_eq(fx_hp_parse(a, json, &hp, &err), SF_OK, "%s: %s", json, err.msg);
    return hp;
}

/* a refuses json with a ClientError naming needle. */
static inline void fx_hp_refused(const kn_algo *a, const char *json, const char *needle)
{
    kn_hp hp;
    kn_err err = {{0}};
    cr_assert_neq(fx_hp_parse(a, json, &hp, &err), SF_OK, "%s was accepted", json);
    cr_assert(strstr(err.msg, "ClientError") && strstr(err.msg, needle),
              "%s: the error '%s' does not name '%s'", json, err.msg, needle);
}

/* m saved as model.tar.gz in a fresh temporary folder and loaded back, as
 * the same algorithm; the folder is gone after. The caller frees the
 * model returned. */
static inline kn_model *fx_model_reload(const kn_model *m)
{
    char dir[] = "/tmp/test_kernels_XXXXXX", path[64];
    cr_assert_not_null(mkdtemp(dir));
    kn_err err = {{0}};
    cr_assert_eq(kn_model_save(m, dir, &err), SF_OK, "%s", err.msg);
    snprintf(path, sizeof path, "%s/model.tar.gz", dir);
    kn_model *back = NULL;
    cr_assert_eq(kn_model_load(path, &back, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(back->algo, m->algo);
    cr_assert_eq(unlink(path), 0);
    cr_assert_eq(rmdir(dir), 0, "kn_model_save left more than model.tar.gz in %s", dir);
    return back;
}

#endif
