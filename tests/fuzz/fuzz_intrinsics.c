/* tests/fuzz/fuzz_intrinsics.c - libFuzzer harness for intrinsic functions.
 *
 * Each input is one expression: it is compiled and, when that succeeds,
 * evaluated against a small fixed input, context and variables. Whatever the
 * bytes, neither step may crash, leak, or return a value together with an
 * error. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coordinator/asl/intrinsics.h"

static json_t *input, *context, *vars;

static void fixture_init(void)
{
    if (input)
        return;
    input = json_loads("{\"a\": 1, \"s\": \"x,y;z\", \"f\": 1.5, \"arr\": [1, 2, 2, \"q\", null],"
                       " \"obj\": {\"k\": [true, {\"n\": -3}]}, \"tmpl\": \"{} and {}\","
                       " \"b64\": \"SGVsbG8=\", \"json\": \"{\\\"x\\\": [1]}\"}",
                       0, NULL);
    context = json_loads("{\"Execution\": {\"Id\": \"arn:aws:states:us-east-1:1:execution:sm:e\","
                         " \"Input\": {\"a\": 1}}, \"StateMachine\": {\"Name\": \"sm-fuzz\"}}",
                         0, NULL);
    vars = json_loads("{\"v\": 7, \"list\": [\"a\", \"b\"], \"o\": {\"p\": \"q\"}}", 0, NULL);
    if (!input || !context || !vars)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fixture_init();
    if (size > 4096) /* long inputs add nothing the short ones do not reach */
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    char err[256];
    asl_intrinsic *fn = NULL;
    sf_rc rc = asl_intrinsic_compile(text, &fn, err, sizeof err);
    if (rc != SF_OK && fn)
        abort();
    if (rc != SF_OK && strlen(err) == 0 && rc != SF_ENOMEM)
        abort(); /* a refusal must say why */
    if (rc == SF_OK) {
        asl_scope s = {.input = input, .context = context, .vars = vars};
        asl_rng rng = {.s = size};
        asl_err e = {0};
        json_t *out = NULL;
        rc = asl_intrinsic_eval(fn, &s, &rng, &out, &e);
        if ((rc == SF_OK) != (out != NULL))
            abort();
        if (rc != SF_OK && rc != SF_ENOMEM && !e.error)
            abort(); /* a runtime failure is an ASL error */
        json_decref(out);
        asl_err_clear(&e);
        asl_intrinsic_destroy(&fn);
    }
    free(text);
    return 0;
}
