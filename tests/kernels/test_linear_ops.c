/* tests/kernels/test_linear_ops.c - every built variant of linear-learner's ops against the
 * reference.
 *
 * Tolerance: the reference sums in double; float32 BLAS sums of d = 300
 * products of O(1) values drift by ~1e-5 relative, so 1e-4 relative (plus
 * 1e-4 absolute near zero) leaves a margin without hiding a wrong index.
 * The CUDA variant is checked only where a device answers. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "bench/bench_data.h"
#include "kernels/linear/linear.h"

#define TOL 1e-4

static float *rand_floats(size_t n, uint64_t seed)
{
    float *p = bench_data_alloc(n);
    bench_data_fill_uniform(p, n, -1, 1, &seed);
    return p;
}

static void assert_close(const float *want, const float *got, size_t n, const char *what,
                         kn_variant v)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(fabsf(want[i] - got[i]) <= TOL * (1 + fabsf(want[i])),
                  "%s (%s) at %zu: reference %g, got %g", what, kn_variant_name(v), i, want[i],
                  got[i]);
}

static bool runnable(kn_variant v, const kn_op *op)
{
    return op->fn[v] && (v != KN_CUDA || kn_cuda_usable());
}

static void check_shapes(size_t n, size_t d, size_t K)
{
    float *X = rand_floats(n * d, 1), *W = rand_floats(d * K, 2), *b = rand_floats(K, 3);
    float *dZ = rand_floats(n * K, 4);
    float *Zr = malloc(n * K * sizeof(float)), *Z = malloc(n * K * sizeof(float));
    float *Gr = malloc(d * K * sizeof(float)), *G = malloc(d * K * sizeof(float));
    kn_linear_forward_ref(X, W, b, Zr, n, d, K);
    kn_linear_gradient_ref(X, dZ, Gr, n, d, K, 0.25f);
    for (int v = KN_BLAS; v < KN_VARIANTS; v++) {
        if (!runnable((kn_variant)v, &kn_linear_forward))
            continue;
        ((kn_linear_forward_fn)kn_linear_forward.fn[v])(X, W, b, Z, n, d, K);
        assert_close(Zr, Z, n * K, "forward", (kn_variant)v);
        ((kn_linear_forward_fn)kn_linear_forward.fn[v])(X, W, NULL, Z, n, d, K);
        kn_linear_forward_ref(X, W, NULL, Zr, n, d, K);
        assert_close(Zr, Z, n * K, "forward without bias", (kn_variant)v);
        ((kn_linear_gradient_fn)kn_linear_gradient.fn[v])(X, dZ, G, n, d, K, 0.25f);
        assert_close(Gr, G, d * K, "gradient", (kn_variant)v);
    }
    free(X), free(W), free(b), free(dZ), free(Zr), free(Z), free(Gr), free(G);
}

Test(linear_ops, one_score_column_matches_the_reference)
{
    check_shapes(257, 300, 1);
}

Test(linear_ops, many_score_columns_match_the_reference)
{
    check_shapes(301, 37, 7);
}

Test(linear_ops, a_single_row_matches_the_reference)
{
    check_shapes(1, 5, 3);
}

Test(linear_ops, the_reference_is_what_it_says)
{
    /* X = [[1,2],[3,4]], W = [[1],[10]], b = [100]: Z = [[121],[143]];
     * Xᵀ·[1,1]ᵀ × 0.5 = [2, 3]. */
    float X[] = {1, 2, 3, 4}, W[] = {1, 10}, b[] = {100}, Z[2], dZ[] = {1, 1}, G[2];
    kn_linear_forward_ref(X, W, b, Z, 2, 2, 1);
    cr_assert_float_eq(Z[0], 121, 1e-6);
    cr_assert_float_eq(Z[1], 143, 1e-6);
    kn_linear_gradient_ref(X, dZ, G, 2, 2, 1, 0.5f);
    cr_assert_float_eq(G[0], 2, 1e-6);
    cr_assert_float_eq(G[1], 3, 1e-6);
}

Test(linear_ops, pick_always_returns_a_runnable_variant)
{
    kn_variant got;
    cr_assert_not_null(kn_pick(&kn_linear_forward, KN_AUTO, &got));
    cr_assert(runnable(got, &kn_linear_forward));
    cr_assert_eq(kn_pick(&kn_linear_gradient, KN_REF, &got), (void *)kn_linear_gradient_ref);
}
