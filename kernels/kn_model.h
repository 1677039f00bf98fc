/* kernels/kn_model.h - trained models and their artifacts.
 *
 * SageMaker's built-in algorithms write `model.tar.gz` holding
 * `model_algo-1`, an MXNet NDArray file. We write the same tarball, at
 * the same place (<S3OutputPath>/<job>/output/model.tar.gz), holding a
 * `model_algo-1` in a format of our own (kernels/README.md documents it,
 * versioned): a model trained here is served here, and this is a
 * deliberate incompatibility with MXNet's format. Its content is named
 * parameters: float32 tensors, integers and strings, plus the algorithm's
 * name and the hyperparameters it was trained with. */
#ifndef KN_MODEL_H
#define KN_MODEL_H

#include "kn_hyper.h"
#include "kn_types.h"

struct kn_algo;

typedef struct kn_model {
    const struct kn_algo *algo;
    kn_hp hp;           /* what it was trained with */
    size_t feature_dim; /* columns it reads */
    void *state;        /* the algorithm's parameters */
} kn_model;

void kn_model_free(kn_model **m);

/* Named parameters, written and read back by the algorithm. */
typedef struct kn_model_writer kn_model_writer;
typedef struct kn_model_reader kn_model_reader;

sf_rc kn_mw_floats(kn_model_writer *w, const char *name, const float *data, size_t n,
                   kn_err *err);
sf_rc kn_mw_int(kn_model_writer *w, const char *name, int64_t v, kn_err *err);
sf_rc kn_mw_str(kn_model_writer *w, const char *name, const char *v, kn_err *err);

/* The reader owns what it returns; it lives until the load ends. A missing
 * name or a wrong kind is an error naming it. n_expected 0: any length. */
sf_rc kn_mr_floats(kn_model_reader *r, const char *name, size_t n_expected, const float **data,
                   size_t *n, kn_err *err);
sf_rc kn_mr_int(kn_model_reader *r, const char *name, int64_t *v, kn_err *err);
sf_rc kn_mr_str(kn_model_reader *r, const char *name, const char **v, kn_err *err);

/* Writes dir/model.tar.gz (creating dir) atomically: a temporary name,
 * then a rename, so a reader never sees half a model. */
sf_rc kn_model_save(const kn_model *m, const char *dir, kn_err *err);

/* Reads a model.tar.gz (or a bare model_algo-1) written by kn_model_save;
 * a file of another format or version is refused, saying which. */
sf_rc kn_model_load(const char *path, kn_model **out, kn_err *err);

#endif
