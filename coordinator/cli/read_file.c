/* cli/read_file.c - read a whole file with a size cap (see read_file.h). */
#include "read_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

sf_rc sf_read_file(const char *path, size_t max, char **data, size_t *len, char *why,
                   size_t whylen)
{
    *data = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s", strerror(errno));
        return SF_EIO;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n + 1 >= cap) {
            if (cap > max + 1) {
                free(buf);
                fclose(f);
                snprintf(why, whylen, "larger than the %zu byte limit", max);
                return SF_ELIMIT;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        sf_rc rc = buf ? SF_EIO : SF_ENOMEM;
        snprintf(why, whylen, "%s", buf ? "read error" : "out of memory");
        free(buf);
        return rc;
    }
    if (n > max) {
        free(buf);
        snprintf(why, whylen, "larger than the %zu byte limit", max);
        return SF_ELIMIT;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return SF_OK;
}
