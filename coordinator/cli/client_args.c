/* cli/client_args.c - the coordinator commands' command line (see
 * client_args.h). */
#define _POSIX_C_SOURCE 200809L /* strdup */
#include "client_args.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client.h"
#include "read_file.h"

void cli_args_usage(const cli_ctx *cx)
{
    fprintf(stderr,
            "usage: statefleet %s\n"
            "The coordinator is --endpoint URL, else $STATEFLEET_ENDPOINT, else %s.\n"
            "Put -- before a positional word that starts with '-'.\n",
            cx->synopsis, CLI_DEFAULT_ENDPOINT);
}

static bool fail(const cli_ctx *cx, const char *what, const char *arg)
{
    fprintf(stderr, "statefleet: %s %s\n", what, arg);
    cli_args_usage(cx);
    return false;
}

/* The option named by word ("--name" or "--name=value"), or NULL. */
static cli_opt *find_opt(cli_opt *opts, size_t nopts, const char *word, size_t namelen)
{
    for (size_t i = 0; i < nopts; i++)
        if (strlen(opts[i].name) == namelen && strncmp(opts[i].name, word, namelen) == 0)
            return &opts[i];
    return NULL;
}

bool cli_args_parse(const cli_ctx *cx, int argc, char **argv, cli_opt *opts, size_t nopts,
                    size_t min_pos, size_t max_pos, cli_args *out)
{
    cli_opt endpoint_opt = {"--endpoint", true, NULL};
    memset(out, 0, sizeof *out);
    out->endpoint = cx->endpoint;
    bool options_done = false;
    for (int i = 0; i < argc; i++) {
        const char *w = argv[i];
        if (options_done || w[0] != '-' || w[1] == '\0') {
            if (out->npos == max_pos)
                return fail(cx, "unexpected argument", w);
            out->pos[out->npos++] = w;
            continue;
        }
        if (strcmp(w, "--") == 0) {
            options_done = true;
            continue;
        }
        const char *eq = strchr(w, '=');
        size_t namelen = eq ? (size_t)(eq - w) : strlen(w);
        cli_opt *o = find_opt(opts, nopts, w, namelen);
        if (!o && strncmp(w, "--endpoint", namelen) == 0 && namelen == strlen("--endpoint"))
            o = &endpoint_opt;
        if (!o)
            return fail(cx, "unknown option", w);
        if (!o->takes_value) {
            if (eq)
                return fail(cx, "this option takes no value:", w);
            o->value = "";
            continue;
        }
        if (eq) {
            o->value = eq + 1;
        } else if (i + 1 < argc) {
            o->value = argv[++i];
        } else {
            return fail(cx, "a value is missing after", w);
        }
        if (o == &endpoint_opt) {
            out->endpoint = o->value;
            o->value = NULL;
        }
    }
    /* Every word may end up in a JSON string, which must be UTF-8: refuse
     * here rather than have jansson drop a field without a word. */
    for (int i = 0; i < argc; i++) {
        json_t *t = json_string(argv[i]);
        if (!t)
            return fail(cx, "not UTF-8 text:", argv[i]);
        json_decref(t);
    }
    if (out->npos < min_pos) {
        fprintf(stderr, "statefleet: missing arguments\n");
        cli_args_usage(cx);
        return false;
    }
    if (!out->endpoint || !*out->endpoint) {
        const char *env = getenv("STATEFLEET_ENDPOINT");
        out->endpoint = env && *env ? env : CLI_DEFAULT_ENDPOINT;
    }
    return true;
}

char *cli_args_json(const char *what, const char *arg)
{
    char *text = NULL;
    size_t len = 0;
    const char *src = what;
    if (arg[0] == '@') {
        char why[256];
        src = arg + 1;
        if (sf_read_file(src, CLI_PAYLOAD_MAX, &text, &len, why, sizeof why) != SF_OK) {
            fprintf(stderr, "statefleet: %s %s: %s\n", what, src, why);
            return NULL;
        }
    } else {
        len = strlen(arg);
        if (len > CLI_PAYLOAD_MAX) {
            fprintf(stderr, "statefleet: %s: %zu bytes exceeds the %d byte limit\n", what, len,
                    CLI_PAYLOAD_MAX);
            return NULL;
        }
        if (!(text = strdup(arg))) {
            fprintf(stderr, "statefleet: out of memory\n");
            return NULL;
        }
    }
    /* Checked here so a typo is a usage problem (exit 2) rather than the
     * coordinator's InvalidExecutionInput; the text itself is sent as
     * written, so numbers keep the digits the person typed. */
    json_error_t je;
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY, &je);
    if (!v) {
        fprintf(stderr, "statefleet: %s: invalid JSON at line %d, column %d (byte %d): %s\n", src,
                je.line, je.column, je.position, je.text);
        free(text);
        return NULL;
    }
    json_decref(v);
    return text;
}
