/* asl/machine.c - compile a validated definition into indexed states.
 *
 * asl_validate has already judged the definition; this file still checks
 * every type it reads, so a definition that slipped past validation is
 * refused with a message instead of crashing the engine. */
#define _GNU_SOURCE
#include "machine.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "timestamp.h"
#include "validate.h"

const char *asl_state_type_name(asl_state_type t)
{
    static const char *const names[] = {
#define ASL_ST_NAME(e, s) s,
        ASL_STATE_TYPES(ASL_ST_NAME)
#undef ASL_ST_NAME
    };
    return names[t];
}

int asl_sm_find(const asl_sm *sm, const char *name)
{
    /* Linear: only used while compiling, where machines are small. */
    for (size_t i = 0; i < sm->n_states; i++)
        if (strcmp(sm->states[i].name, name) == 0)
            return (int)i;
    return -1;
}

/* A compile context: where we are, for messages. */
typedef struct cc {
    asl_diag *d;
    sf_rc rc;
} cc;

static void fail(cc *c, const char *where, const char *what)
{
    asl_diag_add(c->d, where, "%s", what);
    if (c->rc == SF_OK)
        c->rc = SF_EINVAL;
}

static char *at(const char *where, const char *field)
{
    char *s = NULL;
    if (asprintf(&s, "%s/%s", where, field) < 0)
        return NULL;
    return s;
}

static void compile_path(cc *c, json_t *v, const char *where, asl_path **out)
{
    char err[256] = "";
    if (!json_is_string(v)) {
        fail(c, where, "must be a JSONPath string");
        return;
    }
    if (asl_path_compile(json_string_value(v), out, err, sizeof err) != SF_OK) {
        asl_diag_add(c->d, where, "invalid JSONPath '%s': %s", json_string_value(v), err);
        c->rc = SF_EINVAL;
    }
}

static void compile_opt_path(cc *c, json_t *st, const char *field, const char *where,
                             asl_opt_path *out)
{
    json_t *v = json_object_get(st, field);
    if (!v)
        return;
    if (json_is_null(v)) {
        out->is_null = true;
        return;
    }
    char *w = at(where, field);
    compile_path(c, v, w, &out->path);
    free(w);
}

static void compile_tmpl(cc *c, json_t *v, const char *where, const char *field, asl_tmpl **out)
{
    if (!v)
        return;
    char *w = at(where, field);
    if (asl_tmpl_compile(v, w, out, c->d) != SF_OK && c->rc == SF_OK)
        c->rc = SF_EINVAL;
    free(w);
}

/* Reads NAME and NAMEPath as one field. */
static void compile_num(cc *c, json_t *st, const char *name, const char *where,
                        asl_num_field *out)
{
    char pname[64];
    snprintf(pname, sizeof pname, "%sPath", name);
    json_t *v = json_object_get(st, name);
    json_t *p = json_object_get(st, pname);
    if (v) {
        if (!json_is_number(v)) {
            char *w = at(where, name);
            fail(c, w, "must be a number");
            free(w);
            return;
        }
        out->set = true;
        out->value = json_number_value(v);
    } else if (p) {
        char *w = at(where, pname);
        compile_path(c, p, w, &out->path);
        free(w);
        out->set = true;
    }
}

static int resolve_next(cc *c, const asl_sm *sm, json_t *v, const char *where)
{
    if (!json_is_string(v)) {
        fail(c, where, "must be the name of a state");
        return -1;
    }
    int i = asl_sm_find(sm, json_string_value(v));
    if (i < 0)
        fail(c, where, "names a state that does not exist");
    return i;
}

static char **compile_errors(cc *c, json_t *arr, const char *where, size_t *n)
{
    *n = 0;
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        fail(c, where, "ErrorEquals must be a non-empty array of strings");
        return NULL;
    }
    char **e = calloc(json_array_size(arr), sizeof *e);
    if (!e) {
        c->rc = SF_ENOMEM;
        return NULL;
    }
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x) {
        if (!json_is_string(x)) {
            fail(c, where, "ErrorEquals must hold strings");
            continue;
        }
        e[(*n)++] = strdup(json_string_value(x));
    }
    return e;
}

static void compile_retry(cc *c, asl_state *s, json_t *arr, const char *where)
{
    size_t n = json_array_size(arr);
    s->retry = calloc(n ? n : 1, sizeof *s->retry);
    if (!s->retry) {
        c->rc = SF_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        char w[512];
        snprintf(w, sizeof w, "%s/Retry/%zu", where, i);
        asl_retrier *rt = &s->retry[s->n_retry++];
        rt->interval_s = 1;
        rt->max_attempts = 3;
        rt->backoff = 2.0;
        rt->errors = compile_errors(c, json_object_get(r, "ErrorEquals"), w, &rt->n_errors);
        json_t *v;
        if ((v = json_object_get(r, "IntervalSeconds")) && json_is_number(v))
            rt->interval_s = json_number_value(v);
        if ((v = json_object_get(r, "MaxAttempts")) && json_is_number(v))
            rt->max_attempts = (int)json_number_value(v);
        if ((v = json_object_get(r, "BackoffRate")) && json_is_number(v))
            rt->backoff = json_number_value(v);
        if ((v = json_object_get(r, "MaxDelaySeconds")) && json_is_number(v))
            rt->max_delay_s = json_number_value(v);
        if ((v = json_object_get(r, "JitterStrategy")) && json_is_string(v))
            rt->jitter_full = strcmp(json_string_value(v), "FULL") == 0;
    }
}

static void compile_catch(cc *c, const asl_sm *sm, asl_state *s, json_t *arr, const char *where)
{
    size_t n = json_array_size(arr);
    s->catch_ = calloc(n ? n : 1, sizeof *s->catch_);
    if (!s->catch_) {
        c->rc = SF_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        char w[512];
        snprintf(w, sizeof w, "%s/Catch/%zu", where, i);
        asl_catcher *ct = &s->catch_[s->n_catch++];
        ct->errors = compile_errors(c, json_object_get(r, "ErrorEquals"), w, &ct->n_errors);
        char *wn = at(w, "Next");
        ct->next = resolve_next(c, sm, json_object_get(r, "Next"), wn);
        free(wn);
        compile_opt_path(c, r, "ResultPath", w, &ct->result_path);
        compile_tmpl(c, json_object_get(r, "Assign"), w, "Assign", &ct->assign);
    }
}

static void compile_sm(cc *c, json_t *def, const char *where, asl_sm *sm);

static void compile_choice(cc *c, const asl_sm *sm, asl_state *s, json_t *st, const char *where)
{
    json_t *arr = json_object_get(st, "Choices");
    size_t n = json_array_size(arr);
    s->choices = calloc(n ? n : 1, sizeof *s->choices);
    if (!s->choices) {
        c->rc = SF_ENOMEM;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_array_get(arr, i);
        char w[512];
        snprintf(w, sizeof w, "%s/Choices/%zu", where, i);
        asl_choice_branch *b = &s->choices[s->n_choices++];
        if (asl_choice_compile(r, w, &b->rule, c->d) != SF_OK && c->rc == SF_OK)
            c->rc = SF_EINVAL;
        char *wn = at(w, "Next");
        b->next = resolve_next(c, sm, json_object_get(r, "Next"), wn);
        free(wn);
        compile_tmpl(c, json_object_get(r, "Assign"), w, "Assign", &b->assign);
    }
    s->default_next = -1;
    json_t *dv = json_object_get(st, "Default");
    if (dv) {
        char *wd = at(where, "Default");
        s->default_next = resolve_next(c, sm, dv, wd);
        free(wd);
    }
}

static void compile_map(cc *c, asl_state *s, json_t *st, const char *where)
{
    json_t *proc = json_object_get(st, "ItemProcessor");
    const char *pfield = "ItemProcessor";
    if (!proc) {
        proc = json_object_get(st, "Iterator");
        pfield = "Iterator";
    }
    s->iterator = calloc(1, sizeof *s->iterator);
    if (!s->iterator) {
        c->rc = SF_ENOMEM;
        return;
    }
    char *wp = at(where, pfield);
    compile_sm(c, proc, wp, s->iterator);
    free(wp);
    json_t *mode = json_object_get(json_object_get(proc, "ProcessorConfig"), "Mode");
    s->distributed = json_is_string(mode) && strcmp(json_string_value(mode), "DISTRIBUTED") == 0;

    compile_opt_path(c, st, "ItemsPath", where, &s->items_path);
    json_t *items = json_object_get(st, "Items");
    if (json_is_array(items))
        s->items = json_incref(items);
    json_t *sel = json_object_get(st, "ItemSelector");
    compile_tmpl(c, sel ? sel : json_object_get(st, "Parameters"), where,
                 sel ? "ItemSelector" : "Parameters", &s->parameters);
    compile_num(c, st, "MaxConcurrency", where, &s->max_concurrency);
    compile_num(c, st, "ToleratedFailureCount", where, &s->tolerated_count);
    compile_num(c, st, "ToleratedFailurePercentage", where, &s->tolerated_percent);
    json_t *label = json_object_get(st, "Label");
    if (json_is_string(label))
        s->label = strdup(json_string_value(label));

    json_t *reader = json_object_get(st, "ItemReader");
    if (reader) {
        s->item_reader = json_incref(reader);
        char *w = at(where, "ItemReader");
        compile_tmpl(c, json_object_get(reader, "Parameters"), w, "Parameters", &s->reader_params);
        compile_num(c, json_object_get(reader, "ReaderConfig"), "MaxItems", w, &s->max_items);
        free(w);
    }
    json_t *batcher = json_object_get(st, "ItemBatcher");
    if (batcher) {
        s->item_batcher = json_incref(batcher);
        char *w = at(where, "ItemBatcher");
        compile_tmpl(c, json_object_get(batcher, "BatchInput"), w, "BatchInput", &s->batch_input);
        compile_num(c, batcher, "MaxItemsPerBatch", w, &s->max_items_per_batch);
        compile_num(c, batcher, "MaxInputBytesPerBatch", w, &s->max_bytes_per_batch);
        free(w);
    }
    json_t *writer = json_object_get(st, "ResultWriter");
    if (writer) {
        s->result_writer = json_incref(writer);
        char *w = at(where, "ResultWriter");
        compile_tmpl(c, json_object_get(writer, "Parameters"), w, "Parameters", &s->writer_params);
        free(w);
    }
}

static void compile_state(cc *c, const asl_sm *sm, asl_state *s, json_t *st, const char *where)
{
    /* "$$" anywhere in the state means the context object is needed. */
    char *text = json_dumps(st, JSON_COMPACT);
    s->uses_context = !text || strstr(text, "$$") != NULL;
    free(text);

    s->next = -1;
    json_t *next = json_object_get(st, "Next");
    if (next) {
        char *w = at(where, "Next");
        s->next = resolve_next(c, sm, next, w);
        free(w);
    }
    compile_opt_path(c, st, "InputPath", where, &s->input_path);
    compile_opt_path(c, st, "OutputPath", where, &s->output_path);
    compile_opt_path(c, st, "ResultPath", where, &s->result_path);
    if (s->type != ASL_MAP)
        compile_tmpl(c, json_object_get(st, "Parameters"), where, "Parameters", &s->parameters);
    compile_tmpl(c, json_object_get(st, "ResultSelector"), where, "ResultSelector",
                 &s->result_selector);
    compile_tmpl(c, json_object_get(st, "Assign"), where, "Assign", &s->assign);
    json_t *v;
    if ((v = json_object_get(st, "Retry")))
        compile_retry(c, s, v, where);
    if ((v = json_object_get(st, "Catch")))
        compile_catch(c, sm, s, v, where);

    switch (s->type) {
    case ASL_PASS:
        if ((v = json_object_get(st, "Result")))
            s->result = json_incref(v);
        break;
    case ASL_TASK:
        v = json_object_get(st, "Resource");
        s->resource = strdup(json_is_string(v) ? json_string_value(v) : "");
        compile_num(c, st, "TimeoutSeconds", where, &s->timeout);
        compile_num(c, st, "HeartbeatSeconds", where, &s->heartbeat);
        break;
    case ASL_CHOICE:
        compile_choice(c, sm, s, st, where);
        break;
    case ASL_WAIT:
        compile_num(c, st, "Seconds", where, &s->seconds);
        if ((v = json_object_get(st, "Timestamp"))) {
            s->has_timestamp = json_is_string(v) &&
                               asl_timestamp_parse(json_string_value(v), &s->timestamp_ns);
            if (!s->has_timestamp) {
                char *w = at(where, "Timestamp");
                fail(c, w, "must be an RFC 3339 timestamp");
                free(w);
            }
        }
        if ((v = json_object_get(st, "TimestampPath"))) {
            char *w = at(where, "TimestampPath");
            compile_path(c, v, w, &s->timestamp_path);
            free(w);
        }
        break;
    case ASL_FAIL:
        if ((v = json_object_get(st, "Error")) && json_is_string(v))
            s->error = strdup(json_string_value(v));
        if ((v = json_object_get(st, "Cause")) && json_is_string(v))
            s->cause = strdup(json_string_value(v));
        if ((v = json_object_get(st, "ErrorPath")) && json_is_string(v)) {
            char *w = at(where, "ErrorPath");
            if (asl_expr_compile(json_string_value(v), w, &s->error_path, c->d) != SF_OK)
                c->rc = SF_EINVAL;
            free(w);
        }
        if ((v = json_object_get(st, "CausePath")) && json_is_string(v)) {
            char *w = at(where, "CausePath");
            if (asl_expr_compile(json_string_value(v), w, &s->cause_path, c->d) != SF_OK)
                c->rc = SF_EINVAL;
            free(w);
        }
        break;
    case ASL_PARALLEL: {
        json_t *br = json_object_get(st, "Branches");
        size_t n = json_array_size(br);
        s->branches = calloc(n ? n : 1, sizeof *s->branches);
        if (!s->branches) {
            c->rc = SF_ENOMEM;
            break;
        }
        for (size_t i = 0; i < n; i++) {
            char w[512];
            snprintf(w, sizeof w, "%s/Branches/%zu", where, i);
            compile_sm(c, json_array_get(br, i), w, &s->branches[i]);
            s->n_branches++;
        }
        break;
    }
    case ASL_MAP:
        compile_map(c, s, st, where);
        break;
    case ASL_SUCCEED:
        break;
    }
}

static int type_from_name(const char *t)
{
    for (int i = 0; i <= ASL_MAP; i++)
        if (strcmp(t, asl_state_type_name((asl_state_type)i)) == 0)
            return i;
    return -1;
}

static void compile_sm(cc *c, json_t *def, const char *where, asl_sm *sm)
{
    json_t *states = json_object_get(def, "States");
    if (!json_is_object(states) || json_object_size(states) == 0) {
        fail(c, where, "States must be a non-empty object");
        return;
    }
    size_t n = json_object_size(states);
    sm->states = calloc(n, sizeof *sm->states);
    if (!sm->states) {
        c->rc = SF_ENOMEM;
        return;
    }
    const char *name;
    json_t *st;
    /* First pass: names and types, so that Next can be resolved. */
    json_object_foreach(states, name, st) {
        asl_state *s = &sm->states[sm->n_states];
        json_t *t = json_object_get(st, "Type");
        int ti = json_is_string(t) ? type_from_name(json_string_value(t)) : -1;
        s->name = strdup(name);
        if (!s->name) {
            c->rc = SF_ENOMEM;
            return;
        }
        sm->n_states++;
        if (ti < 0) {
            char *w = NULL;
            if (asprintf(&w, "%s/States/%s/Type", where, name) >= 0)
                fail(c, w, "must be one of Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map");
            free(w);
            continue;
        }
        s->type = (asl_state_type)ti;
    }
    json_t *start = json_object_get(def, "StartAt");
    sm->start = json_is_string(start) ? asl_sm_find(sm, json_string_value(start)) : -1;
    if (sm->start < 0) {
        char *w = at(where, "StartAt");
        fail(c, w, "must name a state in States");
        free(w);
    }
    size_t i = 0;
    json_object_foreach(states, name, st) {
        char *w = NULL;
        if (asprintf(&w, "%s/States/%s", where, name) < 0) {
            c->rc = SF_ENOMEM;
            return;
        }
        compile_state(c, sm, &sm->states[i++], st, w);
        free(w);
    }
}

static void free_errors(char **e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(e[i]);
    free(e);
}

static void free_sm(asl_sm *sm);

static void free_state(asl_state *s)
{
    free(s->name);
    asl_path_destroy(&s->input_path.path);
    asl_path_destroy(&s->output_path.path);
    asl_path_destroy(&s->result_path.path);
    asl_tmpl_destroy(&s->parameters);
    asl_tmpl_destroy(&s->result_selector);
    asl_tmpl_destroy(&s->assign);
    json_decref(s->result);
    free(s->resource);
    asl_path_destroy(&s->timeout.path);
    asl_path_destroy(&s->heartbeat.path);
    for (size_t i = 0; i < s->n_retry; i++)
        free_errors(s->retry[i].errors, s->retry[i].n_errors);
    free(s->retry);
    for (size_t i = 0; i < s->n_catch; i++) {
        free_errors(s->catch_[i].errors, s->catch_[i].n_errors);
        asl_path_destroy(&s->catch_[i].result_path.path);
        asl_tmpl_destroy(&s->catch_[i].assign);
    }
    free(s->catch_);
    for (size_t i = 0; i < s->n_choices; i++) {
        asl_choice_destroy(&s->choices[i].rule);
        asl_tmpl_destroy(&s->choices[i].assign);
    }
    free(s->choices);
    asl_path_destroy(&s->seconds.path);
    asl_path_destroy(&s->timestamp_path);
    free(s->error);
    free(s->cause);
    asl_expr_cleanup(&s->error_path);
    asl_expr_cleanup(&s->cause_path);
    for (size_t i = 0; i < s->n_branches; i++)
        free_sm(&s->branches[i]);
    free(s->branches);
    if (s->iterator) {
        free_sm(s->iterator);
        free(s->iterator);
    }
    asl_path_destroy(&s->items_path.path);
    json_decref(s->items);
    asl_path_destroy(&s->max_concurrency.path);
    asl_path_destroy(&s->tolerated_count.path);
    asl_path_destroy(&s->tolerated_percent.path);
    free(s->label);
    json_decref(s->item_reader);
    asl_tmpl_destroy(&s->reader_params);
    json_decref(s->item_batcher);
    asl_tmpl_destroy(&s->batch_input);
    asl_path_destroy(&s->max_items_per_batch.path);
    asl_path_destroy(&s->max_bytes_per_batch.path);
    json_decref(s->result_writer);
    asl_tmpl_destroy(&s->writer_params);
    asl_path_destroy(&s->max_items.path);
}

static void free_sm(asl_sm *sm)
{
    for (size_t i = 0; i < sm->n_states; i++)
        free_state(&sm->states[i]);
    free(sm->states);
    sm->states = NULL;
    sm->n_states = 0;
}

void asl_machine_destroy(asl_machine **pm)
{
    asl_machine *m = pm ? *pm : NULL;
    if (!m)
        return;
    free_sm(&m->top);
    json_decref(m->definition);
    free(m);
    *pm = NULL;
}

sf_rc asl_machine_compile(json_t *def, asl_machine **out, asl_diag *d)
{
    *out = NULL;
    if (!json_is_object(def)) {
        asl_diag_add(d, "/", "a state machine definition must be a JSON object");
        return SF_EINVAL;
    }
    sf_rc rc = asl_validate(def, d);
    if (rc != SF_OK)
        return rc;
    asl_machine *m = calloc(1, sizeof *m);
    if (!m)
        return SF_ENOMEM;
    m->definition = json_incref(def);
    json_t *to = json_object_get(def, "TimeoutSeconds");
    if (json_is_integer(to))
        m->timeout_s = json_integer_value(to);
    cc c = {.d = d, .rc = SF_OK};
    compile_sm(&c, def, "", &m->top);
    if (c.rc != SF_OK) {
        asl_machine_destroy(&m);
        return c.rc;
    }
    *out = m;
    return SF_OK;
}

sf_rc asl_machine_parse(const char *text, size_t len, asl_machine **out, asl_diag *d)
{
    json_error_t je;
    *out = NULL;
    json_t *def = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    if (!def) {
        asl_diag_add(d, "/", "invalid JSON at line %d, column %d (byte %d): %s", je.line,
                     je.column, je.position, je.text);
        return SF_EINVAL;
    }
    sf_rc rc = asl_machine_compile(def, out, d);
    json_decref(def);
    return rc;
}
