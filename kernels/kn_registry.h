/* kernels/kn_registry.h - one operation, several implementations.
 *
 * Every hot operation (a gradient step, assigning points to centres, a
 * matrix product) has a readable CPU reference, an OpenBLAS variant and,
 * when nvcc was found at build time, a CUDA variant, all with the same
 * signature. An operation is a kn_op naming them; kn_pick returns the best
 * one that is available here (CUDA only with a usable device), or the one
 * asked for, falling back towards the reference. Tests run every variant
 * against the reference on the same seeded data. */
#ifndef KN_REGISTRY_H
#define KN_REGISTRY_H

#include <stdbool.h>

typedef enum {
    KN_REF = 0,  /* plain C: the definition of the operation */
    KN_BLAS = 1, /* OpenBLAS */
    KN_CUDA = 2, /* cuBLAS and CUDA kernels */
    KN_VARIANTS
} kn_variant;

/* KN_AUTO for kn_pick: the best available. */
#define KN_AUTO KN_VARIANTS

typedef struct kn_op {
    const char *name;          /* "linear.gradient", for logs and tests */
    void *fn[KN_VARIANTS];     /* NULL where a variant was not built */
} kn_op;

const char *kn_variant_name(kn_variant v); /* "reference", "openblas", "cuda" */

/* Whether CUDA variants were compiled in and a device answers now. */
bool kn_cuda_usable(void);

/* The variant the process asks for: $STATEFLEET_KERNELS = reference |
 * openblas | cuda | auto (default auto). */
kn_variant kn_wanted(void);

/* The implementation of op to use for want (KN_AUTO: the best usable):
 * want itself when built and usable, else the next one down. *got says
 * which (may be NULL). Never NULL: every op has a reference. */
void *kn_pick(const kn_op *op, kn_variant want, kn_variant *got);

#endif
