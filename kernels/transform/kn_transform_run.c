/* kernels/transform/kn_transform_run.c - which files a job reads and
 * where their results go.
 *
 * SageMaker reads every object under an S3 prefix and writes
 * <output>/<relative key>.out; locally the prefix is a file, a directory
 * (walked recursively, hidden entries skipped) or a path prefix
 * ("/data/part-" matches /data/part-0001.csv). Files run in byte order of
 * their names, so reruns write the same things in the same order. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kernels/transform/kn_transform_int.h"

#define FILES_MAX 100000 /* a bound on one job's inputs */
#define DEPTH_MAX 16

typedef struct file_list {
    char **rel; /* relative to root */
    size_t n, cap;
} file_list;

static void list_free(file_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->rel[i]);
    free(l->rel);
}

static sf_rc list_add(file_list *l, const char *rel, kn_err *err)
{
    if (l->n == FILES_MAX)
        return kn_fail(err, SF_ELIMIT, "ClientError: more than %d input files", FILES_MAX);
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **r = realloc(l->rel, cap * sizeof *r);
        if (!r)
            return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
        l->rel = r;
        l->cap = cap;
    }
    if (!(l->rel[l->n] = strdup(rel)))
        return kn_fail(err, SF_ENOMEM, "AlgorithmError: out of memory");
    l->n++;
    return SF_OK;
}

/* Files below root/rel whose names (at the top level) start with prefix. */
static sf_rc walk(const char *root, const char *rel, const char *prefix, int depth, file_list *l,
                  kn_err *err)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s%s%s", root, rel[0] ? "/" : "", rel);
    DIR *d = opendir(dir);
    if (!d)
        return kn_fail(err, SF_ENOTFOUND, "ClientError: cannot read input directory %s: %s", dir,
                       strerror(errno));
    sf_rc rc = SF_OK;
    struct dirent *e;
    while (rc == SF_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        char sub[4096], full[8192];
        if ((size_t)snprintf(sub, sizeof sub, "%s%s%s", rel, rel[0] ? "/" : "", e->d_name) >=
            sizeof sub)
            continue; /* no path that long can be opened anyway */
        snprintf(full, sizeof full, "%s/%s", root, sub);
        struct stat sb;
        if (stat(full, &sb) != 0)
            continue;
        if (S_ISDIR(sb.st_mode)) {
            if (depth < DEPTH_MAX)
                rc = walk(root, sub, NULL, depth + 1, l, err);
        } else if (S_ISREG(sb.st_mode)) {
            rc = list_add(l, sub, err);
        }
    }
    closedir(d);
    return rc;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* mkdir -p for the directory part of path. */
static sf_rc make_parents(char *path, kn_err *err)
{
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        int r = mkdir(path, 0755);
        int e = errno;
        *p = '/';
        if (r != 0 && e != EEXIST)
            return kn_fail(err, SF_EIO, "AlgorithmError: cannot create directory for %s: %s", path,
                           strerror(e));
    }
    return SF_OK;
}

sf_rc kn_transform_run(kn_transform_job *j, const char *input, const char *output_dir,
                       kn_transform_stats *stats, kn_err *err)
{
    file_list l = {0};
    char root[4096];
    struct stat sb;
    sf_rc rc;
    if (stat(input, &sb) == 0 && S_ISREG(sb.st_mode)) {
        const char *slash = strrchr(input, '/');
        snprintf(root, sizeof root, "%.*s", slash ? (int)(slash - input) : 1, slash ? input : ".");
        rc = list_add(&l, slash ? slash + 1 : input, err);
    } else if (stat(input, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(root, sizeof root, "%s", input);
        rc = walk(root, "", NULL, 0, &l, err);
    } else {
        /* A prefix: the directory part, and names starting with the rest. */
        const char *slash = strrchr(input, '/');
        snprintf(root, sizeof root, "%.*s", slash ? (int)(slash - input) : 1, slash ? input : ".");
        if (!root[0])
            strcpy(root, "/");
        rc = walk(root, "", slash ? slash + 1 : input, 0, &l, err);
        if (rc == SF_OK && l.n == 0)
            rc = kn_fail(err, SF_ENOTFOUND, "ClientError: no input files at %s", input);
    }
    if (rc == SF_OK)
        qsort(l.rel, l.n, sizeof *l.rel, by_name);
    for (size_t i = 0; rc == SF_OK && i < l.n; i++) {
        char in[4096], out[4096];
        if ((size_t)snprintf(in, sizeof in, "%s/%s", root, l.rel[i]) >= sizeof in) {
            rc = kn_fail(err, SF_ELIMIT, "ClientError: input path %s/%s is too long", root,
                         l.rel[i]);
            break;
        }
        if ((size_t)snprintf(out, sizeof out, "%s/%s.out", output_dir, l.rel[i]) >= sizeof out) {
            rc = kn_fail(err, SF_ELIMIT, "ClientError: output path for %s is too long", in);
            break;
        }
        if ((rc = make_parents(out, err)) == SF_OK)
            rc = kn_transform_file(j, in, out, stats, err);
    }
    list_free(&l);
    return rc;
}
