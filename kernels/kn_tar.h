/* kernels/kn_tar.h - the one-file gzipped tarballs models travel in.
 *
 * SageMaker's model.tar.gz is a gzip-compressed POSIX ustar archive. We
 * write one member (model_algo-1) and read back any ustar or old-style
 * tar, gzipped or not, to find a member by name. Internal to kernels/. */
#ifndef KN_TAR_H
#define KN_TAR_H

#include <stddef.h>

#include "kn_types.h"

/* The most a model file may take, compressed or not: models are weights,
 * and a bigger file is more likely a wrong file than a model. */
#define KN_TAR_MAX ((size_t)2 << 30)

/* Writes fd (open for writing, at offset 0; not closed) as a gzip'd tar
 * holding one regular file called member with len bytes of data. */
sf_rc kn_tar_write_gz(int fd, const char *member, const void *data, size_t len, kn_err *err);

/* Reads path whole, gunzipping it when it is gzip'd (a plain file is read
 * as is). *out is malloc'd; the caller frees it. */
sf_rc kn_file_read_gz(const char *path, unsigned char **out, size_t *len, kn_err *err);

/* Finds member (by its name without a leading "./") in the tar held in
 * buf; *data points into buf. SF_ENOTFOUND when the archive lacks it. */
sf_rc kn_tar_find(const unsigned char *buf, size_t len, const char *member,
                  const unsigned char **data, size_t *n, kn_err *err);

#endif
