/* bench/bench_mlp.c - the image classifier's training throughput, per variant.
 *
 * For each built variant of the dense-layer ops (reference, OpenBLAS, and
 * CUDA where a device answers): training steps of a 784-256-128-10
 * network on random 28×28 images (Fashion-MNIST's shape; the values do not
 * change the arithmetic), as images per second and the GFLOP/s the dense
 * layers achieve, next to the machine's SGEMM peak measured first with a
 * large square product. The FLOP count is that of the three GEMMs per
 * layer (forward, weight gradient, input gradient but not for the first
 * layer); bias, ReLU, softmax and the optimizer are not counted but their
 * time is, so the ratio to the peak is what a training step makes of the
 * machine. Run: <build dir>/bench/bench_mlp [--quick] [--batch N]. */
#define _POSIX_C_SOURCE 200809L
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/bench_data.h"
#include "kernels/mlp/mlp.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* n values uniform in [0, scale). */
static float *random_floats(size_t n, float scale, uint64_t *s)
{
    float *p = bench_data_alloc(n);
    bench_data_fill_uniform(p, n, 0, scale, s);
    return p;
}

/* OpenBLAS's best on a product big enough to hide everything but the FLOPs. */
static double sgemm_peak(size_t n, double min_s)
{
    uint64_t s = 1;
    float *A = random_floats(n * n, 1, &s), *B = random_floats(n * n, 1, &s);
    float *C = calloc(n * n, sizeof *C);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1, A, (int)n, B,
                (int)n, 0, C, (int)n); /* warm-up: threads, pages */
    int reps = 0;
    double t0 = now_s(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)n, (int)n, 1, A, (int)n,
                    B, (int)n, 0, C, (int)n);
        reps++;
    } while ((t = now_s() - t0) < min_s);
    free(A), free(B), free(C);
    return 2.0 * n * n * n * reps / t / 1e9;
}

int main(int argc, char **argv)
{
    bool quick = false;
    size_t batch = 128;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            quick = true;
        else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc)
            batch = (size_t)strtoul(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "usage: bench_mlp [--quick] [--batch N]\n");
            return 2;
        }
    }
    if (batch == 0 || batch > 65536) {
        fprintf(stderr, "bench_mlp: --batch must be 1..65536\n");
        return 2;
    }
    double min_s = quick ? 0.3 : 2.0;
    const size_t width[] = {784, 256, 128, 10}, L = 3;

    double flops = 0; /* per image per step */
    for (size_t l = 0; l < L; l++)
        flops += 2.0 * width[l] * width[l + 1] * (l > 0 ? 3 : 2);

    double peak = sgemm_peak(quick ? 512 : 2048, min_s);
    printf("SGEMM peak (OpenBLAS, %s): %.1f GFLOP/s\n", quick ? "512^3" : "2048^3", peak);
    printf("training steps, 784-256-128-10, batch %zu, adam, %.2f MFLOP per image:\n", batch,
           flops / 1e6);
    printf("  %-10s %12s %10s %8s\n", "variant", "images/s", "GFLOP/s", "of peak");

    uint64_t s = 2;
    size_t pool = 8 * batch; /* a few batches, cycled: the data is not the point */
    float *X = random_floats(pool * width[0], 255, &s);
    uint32_t *labels = malloc(pool * sizeof *labels);
    for (size_t i = 0; i < pool; i++)
        labels[i] = (uint32_t)(i % width[L]);
    kn_mlp_opt opt = {.kind = KN_MLP_ADAM,
                      .learning_rate = 0.001f,
                      .beta_1 = 0.9f,
                      .beta_2 = 0.999f,
                      .eps = 1e-8f,
                      .weight_decay = 1e-4f};

    for (int v = 0; v < KN_VARIANTS; v++) {
        if (!kn_mlp_dense_forward.fn[v] || (v == KN_CUDA && !kn_cuda_usable()))
            continue;
        kn_mlp *net = kn_mlp_new(width, L);
        kn_mlp_trainer *t = net ? kn_mlp_trainer_new(net, batch, &opt, kn_mlp_dense_forward.fn[v],
                                                     kn_mlp_dense_backward.fn[v])
                                : NULL;
        if (!t) {
            fprintf(stderr, "bench_mlp: out of memory\n");
            return 1;
        }
        net->input_scale = 1.0f / 255;
        kn_mlp_init_he(net, 1);
        double loss = 0;
        size_t correct = 0, steps = 0;
        kn_mlp_train_step(t, X, labels, batch, &loss, &correct); /* warm-up */
        double t0 = now_s(), el;
        do {
            size_t at = (steps % 8) * batch;
            kn_mlp_train_step(t, X + at * width[0], labels + at, batch, &loss, &correct);
            steps++;
        } while ((el = now_s() - t0) < min_s);
        double ips = steps * batch / el, gf = ips * flops / 1e9;
        printf("  %-10s %12.0f %10.2f %7.1f%%\n", kn_variant_name((kn_variant)v), ips, gf,
               100 * gf / peak);
        kn_mlp_trainer_destroy(&t);
        kn_mlp_destroy(&net);
    }
    free(X);
    free(labels);
    return 0;
}
