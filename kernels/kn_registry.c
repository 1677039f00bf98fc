/* kernels/kn_registry.c - choosing an operation's implementation. */
#define _GNU_SOURCE
#include "kn_registry.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kn_types.h"

sf_rc kn_fail(kn_err *err, sf_rc rc, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *kn_variant_name(kn_variant v)
{
    switch (v) {
    case KN_REF:
        return "reference";
    case KN_BLAS:
        return "openblas";
    case KN_CUDA:
        return "cuda";
    default:
        return "auto";
    }
}

#ifdef SF_HAVE_CUDA
int kn_cuda_device_count(void); /* kernels/cuda/kn_cuda.cu */
#endif

bool kn_cuda_usable(void)
{
#ifdef SF_HAVE_CUDA
    static int usable = -1; /* asked once: probing a driver is slow */
    if (usable < 0)
        usable = kn_cuda_device_count() > 0;
    return usable;
#else
    return false;
#endif
}

kn_variant kn_wanted(void)
{
    const char *e = getenv("STATEFLEET_KERNELS");
    if (!e || !*e || strcmp(e, "auto") == 0)
        return KN_AUTO;
    for (int v = 0; v < KN_VARIANTS; v++)
        if (strcmp(e, kn_variant_name((kn_variant)v)) == 0)
            return (kn_variant)v;
    return KN_AUTO; /* an unknown name: the best there is, not a failure */
}

static bool usable(const kn_op *op, int v)
{
    return op->fn[v] && (v != KN_CUDA || kn_cuda_usable());
}

void *kn_pick(const kn_op *op, kn_variant want, kn_variant *got)
{
    int v = want >= KN_VARIANTS ? KN_VARIANTS - 1 : (int)want;
    while (v > KN_REF && !usable(op, v))
        v--;
    if (got)
        *got = (kn_variant)v;
    return op->fn[v];
}
