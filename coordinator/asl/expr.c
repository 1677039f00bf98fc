/* asl/expr.c - ".$" values: paths and intrinsic calls (see expr.h). */
#define _GNU_SOURCE
#include "expr.h"

#include <stdlib.h>
#include <string.h>

sf_rc asl_expr_compile(const char *text, const char *where, asl_expr *out, asl_diag *d)
{
    char err[256] = "";
    memset(out, 0, sizeof *out);
    sf_rc rc;
    if (asl_intrinsic_is_call(text))
        rc = asl_intrinsic_compile(text, &out->fn, err, sizeof err);
    else
        rc = asl_path_compile(text, &out->path, err, sizeof err);
    if (rc != SF_OK) {
        asl_diag_add(d, where, "invalid %s '%s': %s",
                     asl_intrinsic_is_call(text) ? "intrinsic function" : "JSONPath", text, err);
        return SF_EINVAL;
    }
    out->text = strdup(text);
    if (!out->text) {
        asl_expr_cleanup(out);
        return SF_ENOMEM;
    }
    return SF_OK;
}

void asl_expr_cleanup(asl_expr *x)
{
    asl_path_destroy(&x->path);
    asl_intrinsic_destroy(&x->fn);
    free(x->text);
    x->text = NULL;
}

char *asl_json_text(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}

sf_rc asl_expr_eval(const asl_expr *x, const char *field, const asl_scope *s, asl_rng *rng,
                    json_t **out, asl_err *e)
{
    if (x->fn)
        return asl_intrinsic_eval(x->fn, s, rng, out, e);
    sf_rc rc = asl_path_eval_scope(x->path, s, out);
    if (rc == SF_OK)
        return SF_OK;
    if (asl_path_root_kind(x->path) == ASL_ROOT_VAR && asl_path_is_root(x->path)) {
        asl_err_set(e, "States.Runtime", "The variable '%s' referenced in the field '%s' is not defined",
                    asl_path_var(x->path), field);
        return SF_EINVAL;
    }
    json_t *root = asl_path_root_kind(x->path) == ASL_ROOT_CONTEXT ? s->context : s->input;
    char *in = root ? asl_json_text(root) : NULL;
    asl_err_set(e, "States.Runtime",
                "The JSONPath '%s' specified for the field '%s' could not be found in the input '%s'",
                x->text, field, in ? in : "{}");
    free(in);
    return SF_EINVAL;
}
