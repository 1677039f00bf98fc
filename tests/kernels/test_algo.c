/* tests/kernels/test_algo.c - finding an algorithm by name or training image. */
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
