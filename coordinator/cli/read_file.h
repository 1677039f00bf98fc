/* cli/read_file.h - read a whole (small) file with a size cap. */
#ifndef SF_READ_FILE_H
#define SF_READ_FILE_H

#include <stddef.h>

#include "common/sf_rc.h"

/* Reads path into *data (malloc'd, NUL-terminated). SF_ELIMIT past max
 * bytes. On failure writes a reason into why. */
sf_rc sf_read_file(const char *path, size_t max, char **data, size_t *len, char *why,
                   size_t whylen);

#endif
