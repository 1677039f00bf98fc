/* bench/bench_transform.c - the C half of bench_transform.sh.
 *
 *   bench_transform train TRAIN.csv MODEL_DIR   linear-learner (binary) on
 *       TRAIN.csv (label first), written to MODEL_DIR/model.tar.gz, and the
 *       weights printed as JSON for the numpy baseline to use;
 *   bench_transform run MODEL INPUT.csv OUTPUT THREADS
 *       batch transform CSV -> CSV (SplitType Line, MultiRecord, 6 MB,
 *       AssembleWith Line) and one JSON line: bytes, seconds, GB/s.
 *
 * The script times the numpy baseline on the same file in the same run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <jansson.h>

#include "kernels/formats/kn_format.h"
#include "kernels/kn_algo.h"
#include "kernels/kn_model.h"
#include "kernels/transform/kn_transform.h"

static int train(const char *csv, const char *dir)
{
    const kn_algo *a = kn_algo_find("linear-learner");
    kn_err err = {{0}};
    kn_hp hp;
    json_t *given = json_pack("{s:s,s:s}", "predictor_type", "binary_classifier", "epochs", "3");
    kn_reader *r = NULL;
    kn_model *m = NULL;
    sf_rc rc = a ? kn_hp_parse(a->hyper, a->nhyper, given, &hp, &err) : SF_ENOTFOUND;
    json_decref(given);
    if (rc == SF_OK)
        rc = kn_reader_open_file(csv, KN_CT_CSV, true, 0, &r, &err);
    if (rc == SF_OK) {
        kn_source src = kn_reader_source(r);
        size_t dim = 0;
        rc = kn_reader_feature_dim(r, &dim, &err);
        src.feature_dim = dim;
        if (rc == SF_OK)
            rc = a->train(&hp, &src, NULL, NULL, &m, &err);
    }
    kn_reader_close(&r);
    if (rc == SF_OK)
        rc = kn_model_save(m, dir, &err);
    kn_model_free(&m);
    if (rc != SF_OK) {
        fprintf(stderr, "bench_transform train: %s\n", err.msg[0] ? err.msg : sf_rc_str(rc));
        return 1;
    }
    return 0;
}

static int run(const char *model, const char *in, const char *out, unsigned threads)
{
    kn_err err = {{0}};
    kn_model *m = NULL;
    kn_transform_job *job = NULL;
    kn_transform_stats st = {0};
    kn_transform_opts o = {.content_type = "text/csv",
                           .split_type = "Line",
                           .accept = "text/csv",
                           .assemble_with = "Line",
                           .threads = threads};
    /* The transform's predict threads are the parallelism: BLAS threads
     * inside each would only fight them for the same cores. */
    openblas_set_num_threads(1);
    sf_rc rc = kn_model_load(model, &m, &err);
    if (rc == SF_OK)
        rc = kn_transform_job_new(m, &o, &job, &err);
    if (rc == SF_OK)
        rc = kn_transform_file(job, in, out, &st, &err);
    kn_transform_job_destroy(&job);
    kn_model_free(&m);
    if (rc != SF_OK) {
        fprintf(stderr, "bench_transform run: %s\n", err.msg[0] ? err.msg : sf_rc_str(rc));
        return 1;
    }
    printf("{\"records\": %llu, \"bytes\": %llu, \"seconds\": %.4f, \"gb_per_s\": %.3f, "
           "\"threads\": %u}\n",
           (unsigned long long)st.records, (unsigned long long)st.bytes_in, st.seconds,
           (double)st.bytes_in / st.seconds / 1e9, threads);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "train") == 0)
        return train(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "run") == 0)
        return run(argv[2], argv[3], argv[4], (unsigned)atoi(argv[5]));
    fprintf(stderr, "usage: bench_transform train TRAIN.csv MODEL_DIR\n"
                    "       bench_transform run MODEL INPUT.csv OUTPUT THREADS\n");
    return 2;
}
