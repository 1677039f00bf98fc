/* integrations/objstore.h - the object store of DESIGN.md: where s3:// URIs
 * resolve.
 *
 * One small interface, backends behind it. The local-directory backend maps
 * bucket b, key k to DATA_ROOT/b/k; a write goes to a temporary file in the
 * same directory that is renamed into place, so a reader never sees half an
 * object. (The S3 backend, through the SigV4 client, comes later.) */
#ifndef INTEG_OBJSTORE_H
#define INTEG_OBJSTORE_H

#include <stddef.h>

#include <jansson.h>

#include "../../common/sf_rc.h"

typedef struct integ_objstore integ_objstore;

/* A store rooted at data_root (created if missing). NULL on failure. */
integ_objstore *integ_objstore_local_new(const char *data_root);
void integ_objstore_destroy(integ_objstore **st);

/* Reads a whole object into *data (malloc'd, NUL-terminated for
 * convenience; *len excludes the NUL). SF_ENOTFOUND when absent,
 * SF_ELIMIT when larger than max bytes, SF_EINVAL for a bad bucket or key
 * (empty, "..", absolute, NUL). */
sf_rc integ_objstore_get(integ_objstore *st, const char *bucket, const char *key, size_t max,
                         char **data, size_t *len);
/* Writes an object atomically, creating directories as needed. */
sf_rc integ_objstore_put(integ_objstore *st, const char *bucket, const char *key,
                         const void *data, size_t len);
/* Lists keys under prefix, sorted, as ListObjectsV2 Contents entries:
 * [{"Key","Size","ETag","LastModified","StorageClass":"STANDARD"}]. At most
 * max_keys entries (0 = up to 1,000,000). *out is a new reference. */
sf_rc integ_objstore_list(integ_objstore *st, const char *bucket, const char *prefix,
                          size_t max_keys, json_t **out);

/* Splits "s3://bucket/key" into its parts (copied into the buffers).
 * SF_EINVAL when uri is not of that form or a part does not fit. */
sf_rc integ_s3_uri_split(const char *uri, char *bucket, size_t blen, char *key, size_t klen);

#endif
