/* tests/kernels/test_algo.c - finding an algorithm by name or training image;
 * sources over rows in memory, and reading them in full blocks. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/kn_algo.h"

Test(algo, finds_linear_learner_by_name_and_by_image)
{
    const kn_algo *a = kn_algo_find("linear-learner");
    cr_assert_not_null(a);
    cr_assert_str_eq(a->name, "linear-learner");
    cr_assert_eq(kn_algo_find("382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"), a);
    cr_assert_eq(kn_algo_find("174872318107.dkr.ecr.us-west-2.amazonaws.com/linear-learner:latest"),
                 a, "account, region and tag do not matter");
    cr_assert_eq(kn_algo_find("example.com/linear-learner@sha256:abcd"), a, "nor a digest");
    cr_assert_eq(kn_algo_find("linear-learner:1"), a);
}

Test(algo, finds_nothing_for_what_we_do_not_run)
{
    cr_assert_null(kn_algo_find("683313688378.dkr.ecr.us-east-1.amazonaws.com/"
                                "sagemaker-xgboost:1.7-1"));
    cr_assert_null(kn_algo_find("factorization-machines"));
    cr_assert_null(kn_algo_find("linear"));
    cr_assert_null(kn_algo_find(""));
    cr_assert_null(kn_algo_find(NULL));
}

Test(algo, lists_every_linked_algorithm_once)
{
    const kn_algo *const *all = kn_algos();
    size_t n = 0;
    bool linear = false;
    for (; all[n]; n++) {
        linear |= strcmp(all[n]->name, "linear-learner") == 0;
        cr_assert_eq(kn_algo_find(all[n]->name), all[n], "%s", all[n]->name);
        char image[160];
        snprintf(image, sizeof image, "1.dkr.ecr.eu-west-1.amazonaws.com/%s:1", all[n]->name);
        cr_assert_eq(kn_algo_find(image), all[n], "%s", image);
    }
    cr_assert(linear);
    cr_assert_leq(n, 4);
}

/* Rows 0..4 of 2 features, row i = (i, 10 + i), labelled 100 + i. */
static float five_rows[] = {0, 10, 1, 11, 2, 12, 3, 13, 4, 14};
static const float five_labels[] = {100, 101, 102, 103, 104};
static const kn_matrix five = {5, 2, five_rows};

Test(mem_source, hands_out_rows_and_labels_in_batches_then_rewinds)
{
    kn_mem_source_state st;
    kn_source src = kn_mem_source(&st, &five, five_labels, 2);
    cr_assert_eq(src.feature_dim, 2);
    kn_err err = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        size_t seen = 0, calls = 0;
        for (;;) {
            float x[3 * 2], y[3];
            kn_matrix X = {0, 2, x};
            cr_assert_eq(src.next(src.ctx, &X, y, 3, &err), SF_OK, "%s", err.msg);
            if (X.rows == 0)
                break;
            calls++;
            cr_assert_leq(X.rows, 2, "batch caps what was asked for");
            for (size_t r = 0; r < X.rows; r++, seen++) {
                cr_assert_eq(x[2 * r], (float)seen);
                cr_assert_eq(x[2 * r + 1], (float)(10 + seen));
                cr_assert_eq(y[r], (float)(100 + seen));
            }
        }
        cr_assert_eq(seen, 5);
        cr_assert_eq(calls, 3);
        cr_assert_eq(src.rewind(src.ctx, &err), SF_OK);
    }
}

Test(mem_source, without_labels_refuses_a_reader_that_wants_them)
{
    kn_mem_source_state st;
    kn_source src = kn_mem_source(&st, &five, NULL, 0);
    float x[5 * 2], y[5];
    kn_matrix X = {0, 2, x};
    kn_err err = {{0}};
    cr_assert_eq(src.next(src.ctx, &X, NULL, 5, &err), SF_OK);
    cr_assert_eq(X.rows, 5, "batch 0 hands out as many as asked");
    cr_assert_eq(src.rewind(src.ctx, &err), SF_OK);
    cr_assert_eq(src.next(src.ctx, &X, y, 5, &err), SF_EINVAL);
    cr_assert(strstr(err.msg, "ClientError") && strstr(err.msg, "labels"), "%s", err.msg);
}

Test(source_fill, fills_whole_blocks_from_short_batches)
{
    kn_mem_source_state st;
    kn_source src = kn_mem_source(&st, &five, NULL, 1);
    float x[4 * 2];
    kn_matrix X = {0, 2, x};
    kn_err err = {{0}};
    cr_assert_eq(kn_source_fill(&src, &X, 4, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(X.rows, 4);
    cr_assert_eq(x[2 * 3], 3);
    cr_assert_eq(kn_source_fill(&src, &X, 4, &err), SF_OK, "%s", err.msg);
    cr_assert_eq(X.rows, 1, "fewer than asked only at the end");
    cr_assert_eq(x[0], 4);
}
