/* integrations/local_function.c - Lambda-style functions as child processes.
 *
 * stdin is a memfd holding the whole input, so a large input never
 * deadlocks against a child that has not started reading; stdout is a pipe
 * read as the child writes, capped at INTEG_FN_OUTPUT_MAX. stderr is
 * inherited, so a function's logs reach the person running it. */
#define _GNU_SOURCE
#include "local_function.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct integ_fn {
    pid_t pid;
    int fd;
    char *buf;
    size_t len, cap;
    bool overflow;
    char name[256];
};

static int valid_name(const char *name)
{
    return name[0] && !strchr(name, '/') && strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
           strlen(name) < 256;
}

sf_rc integ_fn_start(const char *dir, const char *name, json_t *input, integ_fn **out,
                     asl_err *err)
{
    *out = NULL;
    if (!valid_name(name)) {
        asl_err_set(err, "Lambda.ResourceNotFoundException",
                    "Function name '%s' is not a plain file name", name);
        return SF_EINVAL;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || access(path, X_OK) != 0) {
        asl_err_set(err, "Lambda.ResourceNotFoundException",
                    "Function not found: %s (no executable file at %s)", name, path);
        return SF_ENOTFOUND;
    }
    char *text = json_dumps(input, JSON_COMPACT | JSON_ENCODE_ANY);
    int in = memfd_create("statefleet-input", MFD_CLOEXEC);
    int pipefd[2] = {-1, -1};
    integ_fn *fn = calloc(1, sizeof *fn);
    if (!text || in < 0 || !fn || pipe2(pipefd, O_CLOEXEC) != 0) {
        asl_err_set(err, "States.Runtime", "cannot start function %s: %s", name, strerror(errno));
        goto fail;
    }
    size_t n = strlen(text), off = 0;
    while (off < n) {
        ssize_t w = write(in, text + off, n - off);
        if (w < 0) {
            asl_err_set(err, "States.Runtime", "cannot pass input to %s: %s", name, strerror(errno));
            goto fail;
        }
        off += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    pid_t pid = fork();
    if (pid < 0) {
        asl_err_set(err, "States.Runtime", "cannot fork for %s: %s", name, strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        dup2(in, 0);
        dup2(pipefd[1], 1);
        execl(path, name, (char *)NULL);
        _exit(127);
    }
    close(in);
    close(pipefd[1]);
    free(text);
    fn->pid = pid;
    fn->fd = pipefd[0];
    snprintf(fn->name, sizeof fn->name, "%s", name);
    *out = fn;
    return SF_OK;
fail:
    free(text);
    if (in >= 0)
        close(in);
    if (pipefd[0] >= 0) {
        close(pipefd[0]);
        close(pipefd[1]);
    }
    free(fn);
    return SF_EIO;
}

int integ_fn_fd(const integ_fn *fn)
{
    return fn->fd;
}

int integ_fn_read(integ_fn *fn)
{
    char tmp[65536];
    ssize_t r = read(fn->fd, tmp, sizeof tmp);
    if (r < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (r == 0)
        return 1;
    if (fn->len + (size_t)r > INTEG_FN_OUTPUT_MAX) {
        fn->overflow = true; /* keep draining so the child is not blocked */
        return 0;
    }
    if (fn->len + (size_t)r + 1 > fn->cap) {
        size_t cap = fn->cap ? fn->cap * 2 : 65536;
        while (cap < fn->len + (size_t)r + 1)
            cap *= 2;
        char *b = realloc(fn->buf, cap);
        if (!b)
            return -1;
        fn->buf = b;
        fn->cap = cap;
    }
    memcpy(fn->buf + fn->len, tmp, (size_t)r);
    fn->len += (size_t)r;
    fn->buf[fn->len] = '\0';
    return 0;
}

/* Lambda's cause for a failure: a JSON string with errorMessage and errorType. */
static void lambda_error(asl_err *err, const char *type, const char *message)
{
    json_t *c = json_pack("{s:s,s:s}", "errorMessage", message, "errorType", type);
    char *cause = c ? json_dumps(c, JSON_COMPACT) : NULL;
    asl_err_copy(err, type, cause ? cause : message);
    free(cause);
    json_decref(c);
}

sf_rc integ_fn_finish(integ_fn *fn, json_t **result, asl_err *err)
{
    *result = NULL;
    int status = 0;
    while (waitpid(fn->pid, &status, 0) < 0 && errno == EINTR)
        ;
    fn->pid = 0;
    char msg[512];
    if (WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            snprintf(msg, sizeof msg, "function %s could not be executed", fn->name);
        else if (WIFSIGNALED(status))
            snprintf(msg, sizeof msg, "function %s was killed by signal %d", fn->name,
                     WTERMSIG(status));
        else
            snprintf(msg, sizeof msg, "function %s exited with status %d", fn->name,
                     WEXITSTATUS(status));
        lambda_error(err, "Runtime.ExitError", msg);
        return SF_EINVAL;
    }
    if (fn->overflow) {
        snprintf(msg, sizeof msg, "function %s wrote more than %d bytes of output", fn->name,
                 INTEG_FN_OUTPUT_MAX);
        asl_err_copy(err, "States.DataLimitExceeded", msg);
        return SF_ELIMIT;
    }
    json_error_t je;
    json_t *r = fn->len ? json_loadb(fn->buf, fn->len, JSON_DECODE_ANY, &je) : json_null();
    if (!r) {
        snprintf(msg, sizeof msg, "function %s returned invalid JSON at line %d, column %d: %s",
                 fn->name, je.line, je.column, je.text);
        lambda_error(err, "Runtime.InvalidResponse", msg);
        return SF_EINVAL;
    }
    json_t *et = json_object_get(r, "errorType"), *em = json_object_get(r, "errorMessage");
    if (json_is_string(et) && em) {
        char *m = json_is_string(em) ? strdup(json_string_value(em))
                                     : json_dumps(em, JSON_COMPACT | JSON_ENCODE_ANY);
        char *cause = json_dumps(r, JSON_COMPACT);
        asl_err_copy(err, json_string_value(et), cause ? cause : m);
        free(m);
        free(cause);
        json_decref(r);
        return SF_EINVAL;
    }
    *result = r;
    return SF_OK;
}

void integ_fn_destroy(integ_fn **pfn)
{
    integ_fn *fn = pfn ? *pfn : NULL;
    if (!fn)
        return;
    if (fn->pid > 0) {
        kill(fn->pid, SIGKILL);
        while (waitpid(fn->pid, NULL, 0) < 0 && errno == EINTR)
            ;
    }
    if (fn->fd >= 0)
        close(fn->fd);
    free(fn->buf);
    free(fn);
    *pfn = NULL;
}
