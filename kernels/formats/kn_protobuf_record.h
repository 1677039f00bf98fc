/* kernels/formats/kn_protobuf_record.h - SageMaker's Record message
 * (aialgs.data.Record, record.proto), decoded and encoded by hand.
 *
 * Only what the algorithms need: a Record's features["values"] and
 * label["values"] tensors (Float32Tensor, Float64Tensor, Int32Tensor;
 * dense, or sparse with keys and shape), as float32. Unknown fields are
 * skipped, as protobuf requires; packed and unpacked repeated fields are
 * both read (proto2). Internal to kernels/formats/ and its tests. */
#ifndef KN_PROTOBUF_RECORD_H
#define KN_PROTOBUF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"

/* Decodes the Record at [p, p+len): features["values"] into dst (room for
 * cap floats; a sparse one zero-filled then set at its keys), *n its
 * width (a dense tensor's value count, a sparse one's shape product);
 * with label not NULL, label["values"], which must hold one value. On an
 * error, why (whylen bytes) says what is wrong and *at (when not NULL)
 * the byte in the record where. */
sf_rc kn_record_decode(const uint8_t *p, size_t len, float *dst, size_t cap, size_t *n,
                       float *label, char *why, size_t whylen, size_t *at);

/* Decodes the tensor of one entry of the Record's features map (or, with
 * label_map, its label map), as kn_record_decode does features["values"]. */
sf_rc kn_record_tensor(const uint8_t *p, size_t len, bool label_map, const char *name, float *dst,
                       size_t cap, size_t *n, char *why, size_t whylen, size_t *at);

/* One map entry's Float32Tensor, for encoding. */
typedef struct kn_pb_tensor {
    const char *name;    /* the map key: "values", "score", ... */
    const float *values; /* n of them */
    size_t n;
    const uint64_t *keys; /* NULL: dense; else n column indices */
    uint64_t shape;       /* 0: no shape; else shape = [shape] */
} kn_pb_tensor;

/* The encoded size of Record{features: f[0..nf), label: l[0..nl)}. */
size_t kn_record_size(const kn_pb_tensor *f, size_t nf, const kn_pb_tensor *l, size_t nl);
/* Encodes it into out (kn_record_size bytes); returns the bytes written. */
size_t kn_record_encode(const kn_pb_tensor *f, size_t nf, const kn_pb_tensor *l, size_t nl,
                        uint8_t *out);

#endif
