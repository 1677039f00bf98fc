/* kernels/formats/kn_recordio.h - RecordIO framing (dmlc-core), as
 * SageMaker's application/x-recordio-protobuf wraps its Records:
 *
 *   magic:u32le  lrecord:u32le  data[len]  zero pad to a multiple of 4
 *   lrecord = cflag << 29 | len; cflag 0 whole, 1 first, 2 middle, 3 last
 *
 * Internal to kernels/formats/ and its tests. */
#ifndef KN_RECORDIO_H
#define KN_RECORDIO_H

#include <stdint.h>
#include <stdio.h>

#include "kernels/kn_types.h"

#define KN_RECORDIO_MAGIC 0xced7230aU
#define KN_RECORDIO_LEN_MAX ((UINT32_C(1) << 29) - 1)

/* Fills h with the header of a whole record of len bytes (len <=
 * KN_RECORDIO_LEN_MAX); returns the zero padding that follows the data. */
size_t kn_recordio_header(uint8_t h[8], size_t len);

/* Writes data as one whole record (cflag 0), never split, as SageMaker's
 * SDK writes. */
sf_rc kn_recordio_write(FILE *to, const uint8_t *data, size_t len, kn_err *err);

#endif
