/* worker/aws_credentials.h - where the AWS client finds its keys.
 *
 * The standard chain, as the AWS CLI and SDKs follow it for static keys:
 *   1. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 *      optionally AWS_SESSION_TOKEN;
 *   2. the shared credentials file ($AWS_SHARED_CREDENTIALS_FILE, else
 *      ~/.aws/credentials), section [$AWS_PROFILE] (else [default]), keys
 *      aws_access_key_id, aws_secret_access_key, aws_session_token.
 * A profile that is named but missing, or a file that is unreadable or
 * malformed, is an error naming the file, line and profile rather than a
 * silent fall-through to anonymous requests. */
#ifndef WORKER_AWS_CREDENTIALS_H
#define WORKER_AWS_CREDENTIALS_H

#include <stddef.h>
#include <stdio.h>

#include "common/sf_rc.h"

typedef struct aws_credentials {
    char access_key_id[128];
    char secret_access_key[128];
    char session_token[2048]; /* "" when there is none */
    char source[512];         /* where they came from, for logs: "environment", "FILE [profile]" */
} aws_credentials;

/* Resolves the chain above. env may be NULL for the process environment
 * (tests pass their own: a NULL-terminated "NAME=value" array); home is
 * $HOME's value, or NULL to read it from env. SF_ENOTFOUND with err saying
 * where it looked when no credentials exist anywhere. */
sf_rc aws_credentials_load(char *const *env, const char *home, aws_credentials *out, char *err,
                           size_t errlen);

/* Reads one profile from a credentials file (the INI format of the AWS
 * CLI: [section] headers, key = value lines, # or ; comments). */
sf_rc aws_credentials_from_file(const char *path, const char *profile, aws_credentials *out,
                                char *err, size_t errlen);

/* The same from an open stream; path names it in errors. */
sf_rc aws_credentials_parse(FILE *f, const char *path, const char *profile, aws_credentials *out,
                            char *err, size_t errlen);

#endif
