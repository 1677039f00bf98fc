/* tests/fuzz/fuzz_definition.c - libFuzzer harness for asl_validate.
 *
 * Feeds arbitrary bytes, parsed as JSON, to the validator: it must never
 * crash, leak or trip a sanitizer, whatever the definition holds (deep
 * nesting, NULs in strings, huge names, every field of the wrong type).
 * Seeds are small definitions, valid and invalid, in corpus/fuzz_definition. */
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "coordinator/asl/validate.h"

#define FUZZ_INPUT_MAX (64 * 1024) /* definitions past this are not interesting */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > FUZZ_INPUT_MAX)
        return 0;
    json_error_t e;
    json_t *def = json_loadb((const char *)data, size, JSON_ALLOW_NUL, &e);
    asl_diag d = {0};
    sf_rc rc = asl_validate(def, &d);
    /* The contract: a verdict other than OK always says why. */
    if (rc != SF_OK && asl_diag_count(&d) == 0)
        __builtin_trap();
    if (rc == SF_OK && asl_diag_count(&d) != 0)
        __builtin_trap();
    asl_diag_clear(&d);
    json_decref(def);
    return 0;
}
