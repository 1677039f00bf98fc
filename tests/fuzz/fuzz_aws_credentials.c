/* tests/fuzz/fuzz_aws_credentials.c - libFuzzer harness for the shared
 * credentials file parser: any bytes, as a file; it must answer (a profile
 * or an error naming the file) without reading outside them, and a profile
 * it accepts must hold both keys, NUL-terminated within their fields. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "worker/aws_credentials.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0; /* fmemopen refuses an empty buffer */
    FILE *f = fmemopen((void *)data, size, "r");
    if (!f)
        return 0;
    aws_credentials c;
    char err[512];
    sf_rc rc = aws_credentials_parse(f, "fuzz", "default", &c, err, sizeof err);
    fclose(f);
    if (rc == SF_OK &&
        (!c.access_key_id[0] || !c.secret_access_key[0] ||
         strnlen(c.access_key_id, sizeof c.access_key_id) == sizeof c.access_key_id ||
         strnlen(c.secret_access_key, sizeof c.secret_access_key) == sizeof c.secret_access_key))
        abort();
    if (rc != SF_OK && !strstr(err, "fuzz"))
        abort(); /* every refusal names the file */
    return 0;
}
