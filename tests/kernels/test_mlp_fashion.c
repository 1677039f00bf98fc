/* tests/kernels/test_mlp_fashion.c - the image classifier's acceptance run: Fashion-MNIST.
 *
 * Trains on the 60,000 training images and must classify at least 88% of
 * the 10,000 test images right. The settings are chosen for time: about
 * 16 s on two cores (the suite's machines) for about 89.7%, so the bar
 * has a margin of well over a point. The data set is a Debian package,
 * dataset-fashion-mnist, which scripts/setup.sh installs. */
#define _POSIX_C_SOURCE 200809L
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "kernels/mlp/mlp.h"
#include "kernels/mlp/mlp_idx.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist/"

static kn_idx *load(const char *name)
{
    char path[256];
    snprintf(path, sizeof path, FASHION_DIR "%s", name);
    if (access(path, R_OK) != 0)
        cr_assert_fail("%s is missing: install the Debian package dataset-fashion-mnist "
                       "(scripts/setup.sh does)",
                       path);
    kn_idx *idx = NULL;
    kn_err err = {{0}};
    cr_assert_eq(kn_idx_load(path, &idx, &err), SF_OK, "%s", err.msg);
    return idx;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void show_epoch(void *ctx, double fraction, uint64_t records, uint32_t epoch,
                       const kn_metric *metrics, size_t n)
{
    if (n == 0)
        return;
    fprintf(stderr, "fashion-mnist: epoch %2u %.1f s", epoch, now_s() - *(double *)ctx);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %s %.4f", metrics[i].name, metrics[i].value);
    fprintf(stderr, "\n");
}

Test(mlp_fashion, reaches_88_percent_on_the_test_set, .timeout = 280)
{
    kn_idx *train_x = load("train-images-idx3-ubyte.gz");
    kn_idx *train_y = load("train-labels-idx1-ubyte.gz");
    kn_idx *test_x = load("t10k-images-idx3-ubyte.gz");
    kn_idx *test_y = load("t10k-labels-idx1-ubyte.gz");
    cr_assert_eq(train_x->dims[0], 60000);
    cr_assert_eq(test_x->dims[0], 10000);
    cr_assert_eq(train_x->item, 784);

    kn_idx_cursor cursor;
    kn_source train;
    kn_err err = {{0}};
    cr_assert_eq(kn_idx_source(&cursor, train_x, train_y, 0, &train, &err), SF_OK, "%s", err.msg);
    /* Adam, 128 images a batch, the rate cut twice: 15 epochs get to what
     * SGD at SageMaker's settings needs 30 for. */
    json_t *given =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "num_classes", "10",
                  "num_training_samples", "60000", "image_shape", "[1,28,28]", "hidden_layers",
                  "[256,128]", "optimizer", "adam", "mini_batch_size", "128", "epochs", "15",
                  "lr_scheduler_step", "[8,12]", "lr_scheduler_factor", "0.3");
    kn_hp hp;
    cr_assert_eq(kn_hp_parse(kn_algo_image_classifier.hyper, kn_algo_image_classifier.nhyper, given,
                             &hp, &err),
                 SF_OK, "%s", err.msg);
    json_decref(given);

    double t0 = now_s();
    kn_progress progress = {&t0, show_epoch, NULL};
    kn_model *m = NULL;
    cr_assert_eq(kn_algo_image_classifier.train(&hp, &train, NULL, &progress, &m, &err), SF_OK,
                 "%s", err.msg);
    double trained = now_s() - t0;

    /* The test set through predict, as batch transform would send it. */
    size_t n = test_x->dims[0], dim = test_x->item;
    kn_response resp;
    m->algo->response(m, &resp);
    float *X = malloc(n * dim * sizeof *X), *out = malloc(n * resp.width * sizeof *out);
    cr_assert(X && out);
    for (size_t i = 0; i < n * dim; i++)
        X[i] = test_x->data[i];
    kn_matrix M = {n, dim, X};
    cr_assert_eq(m->algo->predict(m, &M, out, &err), SF_OK, "%s", err.msg);
    size_t right = 0;
    for (size_t i = 0; i < n; i++)
        right += out[i * resp.width] == (float)test_y->data[i];
    double acc = (double)right / (double)n, total = now_s() - t0;
    kn_variant got;
    kn_pick(&kn_mlp_dense_forward, kn_wanted(), &got);
    fprintf(stderr,
            "fashion-mnist: test accuracy %.4f (%zu of %zu); trained in %.1f s, %.1f s with "
            "prediction (%s variant)\n",
            acc, right, n, trained, total, kn_variant_name(got));
    cr_assert_geq(acc, 0.88, "test accuracy %.4f is below 0.88", acc);

    free(X);
    free(out);
    kn_model_free(&m);
    kn_idx_destroy(&train_x);
    kn_idx_destroy(&train_y);
    kn_idx_destroy(&test_x);
    kn_idx_destroy(&test_y);
}
