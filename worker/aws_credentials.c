/* worker/aws_credentials.c - see aws_credentials.h. */
#define _GNU_SOURCE
#include "worker/aws_credentials.h"

#include <ctype.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/sf_log.h"

#define LINE_MAX_BYTES 4096 /* longer lines are not credentials: refused */

static const char *env_get(char *const *env, const char *name)
{
    if (!env)
        return getenv(name);
    size_t n = strlen(name);
    for (; *env; env++)
        if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
            return *env + n + 1;
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

static sf_rc put(char *dst, size_t cap, const char *value, const char *path, int line,
                 const char *key, char *err, size_t errlen)
{
    if (strlen(value) >= cap)
        return sf_errf(err, errlen, SF_ELIMIT, "%s line %d: %s is longer than %zu bytes", path,
                       line, key, cap - 1);
    memcpy(dst, value, strlen(value) + 1);
    return SF_OK;
}

sf_rc aws_credentials_from_file(const char *path, const char *profile, aws_credentials *out,
                                char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f)
        return sf_errf(err, errlen, errno == ENOENT ? SF_ENOTFOUND : SF_EIO,
                       "cannot read AWS credentials file %s: %s", path, strerror(errno));
    sf_rc rc = aws_credentials_parse(f, path, profile, out, err, errlen);
    fclose(f);
    return rc;
}

sf_rc aws_credentials_parse(FILE *f, const char *path, const char *profile, aws_credentials *out,
                            char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    char buf[LINE_MAX_BYTES + 2];
    bool in_profile = false, found = false;
    int line = 0;
    sf_rc rc = SF_OK;
    while (rc == SF_OK && fgets(buf, sizeof buf, f)) {
        line++;
        if (!strchr(buf, '\n') && !feof(f)) {
            rc = sf_errf(err, errlen, SF_EINVAL, "%s line %d: longer than %d bytes", path, line,
                         LINE_MAX_BYTES);
            break;
        }
        char *s = trim(buf);
        if (!*s || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end) {
                rc = sf_errf(err, errlen, SF_EINVAL, "%s line %d: a section header needs ']'", path,
                             line);
                break;
            }
            *end = '\0';
            /* ~/.aws/config writes [profile NAME]; the credentials file [NAME]. */
            char *name = trim(s + 1);
            if (strncmp(name, "profile ", 8) == 0)
                name = trim(name + 8);
            in_profile = strcmp(name, profile) == 0;
            found = found || in_profile;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = sf_errf(err, errlen, SF_EINVAL, "%s line %d: expected 'key = value'", path, line);
            break;
        }
        if (!in_profile)
            continue;
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        if (strcmp(key, "aws_access_key_id") == 0)
            rc = put(out->access_key_id, sizeof out->access_key_id, value, path, line, key, err,
                     errlen);
        else if (strcmp(key, "aws_secret_access_key") == 0)
            rc = put(out->secret_access_key, sizeof out->secret_access_key, value, path, line, key,
                     err, errlen);
        else if (strcmp(key, "aws_session_token") == 0)
            rc = put(out->session_token, sizeof out->session_token, value, path, line, key, err,
                     errlen);
        /* Other keys (region, output, role_arn...) are not credentials. */
    }
    if (rc != SF_OK)
        return rc;
    if (!found)
        return sf_errf(err, errlen, SF_ENOTFOUND, "%s has no profile [%s]", path, profile);
    if (!out->access_key_id[0] || !out->secret_access_key[0])
        return sf_errf(err, errlen, SF_EINVAL,
                       "%s [%s]: needs both aws_access_key_id and aws_secret_access_key", path,
                       profile);
    snprintf(out->source, sizeof out->source, "%s [%s]", path, profile);
    return SF_OK;
}

sf_rc aws_credentials_load(char *const *env, const char *home, aws_credentials *out, char *err,
                           size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *id = env_get(env, "AWS_ACCESS_KEY_ID");
    const char *secret = env_get(env, "AWS_SECRET_ACCESS_KEY");
    if (id && *id && secret && *secret) {
        const char *token = env_get(env, "AWS_SESSION_TOKEN");
        if (strlen(id) >= sizeof out->access_key_id ||
            strlen(secret) >= sizeof out->secret_access_key ||
            (token && strlen(token) >= sizeof out->session_token))
            return sf_errf(err, errlen, SF_ELIMIT,
                           "AWS credentials in the environment are longer than keys can be");
        strcpy(out->access_key_id, id);
        strcpy(out->secret_access_key, secret);
        if (token)
            strcpy(out->session_token, token);
        snprintf(out->source, sizeof out->source, "environment");
        return SF_OK;
    }
    if ((id && *id) != (secret && *secret))
        return sf_errf(err, errlen, SF_EINVAL,
                       "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
    const char *profile = env_get(env, "AWS_PROFILE");
    bool named = profile && *profile;
    if (!named)
        profile = "default";
    char path[1024];
    const char *file = env_get(env, "AWS_SHARED_CREDENTIALS_FILE");
    if (file && *file) {
        snprintf(path, sizeof path, "%s", file);
    } else {
        if (!home)
            home = env_get(env, "HOME");
        if (!home || !*home)
            return sf_errf(err, errlen, SF_ENOTFOUND,
                           "no AWS credentials: none in the environment, and no HOME to find "
                           "~/.aws/credentials");
        snprintf(path, sizeof path, "%s/.aws/credentials", home);
    }
    sf_rc rc = aws_credentials_from_file(path, profile, out, err, errlen);
    if (rc == SF_ENOTFOUND && !named && !(file && *file))
        return sf_errf(err, errlen, SF_ENOTFOUND,
                       "no AWS credentials: none in the environment (AWS_ACCESS_KEY_ID, "
                       "AWS_SECRET_ACCESS_KEY) and no [default] profile in %s",
                       path);
    return rc;
}
