/* proto/sigv4.h - AWS Signature Version 4 (AWS4-HMAC-SHA256) request signing.
 *
 * Pure code: no I/O, no clock, no printing. The caller passes the time, the
 * credentials and the request as it will go on the wire; this file builds
 * the canonical request, the string to sign and the signature, and returns
 * what must be added to the request: headers as "Name: value" strings (ready
 * for curl_slist_append) in header mode, or the new query string in
 * presigned (query) mode.
 *
 * Ownership: every pointer in the inputs is borrowed for the call only;
 * every pointer in a sigv4_result is owned by it until sigv4_result_clear.
 * Errors: functions return an sf_rc and, when err is non-NULL, write a
 * message naming the faulty input ("header 3 name \"a b\": invalid
 * character ' '"). The rules come from AWS's SigV4 documentation and are
 * checked byte for byte against the aws-c-auth test suite
 * (tests/proto/test_sigv4.c). */
#ifndef PROTO_SIGV4_H
#define PROTO_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sf_rc.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"

/* Limits on what one request may hold; beyond them sigv4_sign returns
 * SF_ELIMIT rather than building ever larger strings. */
#define SIGV4_MAX_HEADERS 256
#define SIGV4_MAX_TEXT (1u << 20) /* any one built string: canonical request, query... */
#define SIGV4_MAX_EXPIRES 604800  /* seven days, AWS's ceiling for presigned URLs */

/* Flags (sigv4_params.flags). */
enum {
    /* Drop "." and empty path segments and let ".." remove the one before.
     * Every service but S3 normalises; S3 keys may hold "//" or "..". */
    SIGV4_NORMALIZE_PATH = 1u << 0,
    /* Percent-encode the path once more even where it is already encoded
     * ('%' becomes %25). Every service but S3 expects this. Without it, a
     * valid %XX escape in the path is kept as it is. */
    SIGV4_DOUBLE_ENCODE = 1u << 1,
    /* Header mode: add and sign x-amz-content-sha256 holding the payload
     * hash (S3 requires it). Ignored in query mode. */
    SIGV4_SIGN_BODY = 1u << 2,
    /* Attach X-Amz-Security-Token to the request but leave it out of the
     * signature (a few services, IoT among them, want it so). */
    SIGV4_OMIT_SESSION_TOKEN = 1u << 3,
};

/* What most AWS services (SageMaker, Step Functions) expect. */
#define SIGV4_FLAGS_DEFAULT (SIGV4_NORMALIZE_PATH | SIGV4_DOUBLE_ENCODE)
/* What S3 expects. */
#define SIGV4_FLAGS_S3 (SIGV4_SIGN_BODY)

typedef enum {
    SIGV4_MODE_HEADER, /* Authorization header */
    SIGV4_MODE_QUERY,  /* presigned URL: X-Amz-* query parameters */
} sigv4_mode;

typedef enum {
    SIGV4_PAYLOAD_BYTES,    /* payload/payload_len: hashed here */
    SIGV4_PAYLOAD_HASH,     /* payload_hash: 64 hex digits, computed by the caller */
    SIGV4_PAYLOAD_UNSIGNED, /* the literal UNSIGNED-PAYLOAD */
} sigv4_payload_kind;

/* One request header. Values may hold folded lines ("a\n  b"); a line
 * break not followed by a space or tab is refused (header injection). */
typedef struct sigv4_header {
    const char *name;
    const char *value;
} sigv4_header;

typedef struct sigv4_request {
    const char *method;          /* "GET", "POST"... */
    const char *path;            /* as on the wire, before '?'; must start with '/' */
    const char *query;           /* as on the wire, after '?'; NULL or "" for none */
    const sigv4_header *headers; /* any order, duplicates allowed; must hold Host */
    size_t n_headers;
    sigv4_payload_kind payload_kind;
    const void *payload; /* SIGV4_PAYLOAD_BYTES; may be NULL when payload_len is 0 */
    size_t payload_len;
    const char *payload_hash; /* SIGV4_PAYLOAD_HASH */
} sigv4_request;

typedef struct sigv4_credentials {
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" for none */
} sigv4_credentials;

typedef struct sigv4_params {
    const char *region;  /* "us-east-1" */
    const char *service; /* "sagemaker", "states", "s3" */
    int64_t time;        /* seconds since the epoch, UTC; years 1970..9999 */
    unsigned flags;      /* SIGV4_* above */
    sigv4_mode mode;
    uint32_t expires; /* query mode: X-Amz-Expires, 1..SIGV4_MAX_EXPIRES */
} sigv4_params;

/* The signing key depends only on the secret, the date, the region and the
 * service, so a client signing many requests derives it once a day. The
 * cache holds the derived key (as secret as the secret itself) and a
 * SHA-256 of the secret, never the secret. Not thread-safe: one per thread,
 * or a lock around sigv4_sign. Zero-initialise it before first use; wipe it
 * with sigv4_key_cache_clear. */
typedef struct sigv4_key_cache {
    bool valid;
    char date[9]; /* YYYYMMDD */
    char region[64];
    char service[64];
    unsigned char secret_hash[32];
    unsigned char key[32];
    uint64_t hits, misses; /* for tests and metrics */
} sigv4_key_cache;

#define SIGV4_MAX_ADDED_HEADERS 4

typedef struct sigv4_result {
    char *canonical_request; /* owned */
    char *string_to_sign;    /* owned */
    char signature[65];      /* lowercase hex */
    /* Header mode: X-Amz-Date, then x-amz-content-sha256 (SIGV4_SIGN_BODY)
     * and X-Amz-Security-Token (with a token), then Authorization, each
     * one owned "Name: value" string. Query mode: only headers the caller
     * must still send, none today. */
    char *headers[SIGV4_MAX_ADDED_HEADERS];
    size_t n_headers;
    /* Query mode: the whole query string to send after '?': the request's
     * own query unchanged, then the X-Amz-* parameters. Header mode: NULL,
     * the query is sent as it was. Owned. */
    char *query;
} sigv4_result;

/* Signs req. cache may be NULL. On success *out holds everything above; on
 * failure *out is empty (sigv4_result_clear is still safe to call). */
sf_rc sigv4_sign(const sigv4_request *req, const sigv4_credentials *cred,
                 const sigv4_params *params, sigv4_key_cache *cache, sigv4_result *out, char *err,
                 size_t errlen);

/* Frees what r owns and empties it; NULL-safe. */
void sigv4_result_clear(sigv4_result *r);

/* kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service),
 * "aws4_request"); date is YYYYMMDD. Uses and refills cache when non-NULL. */
sf_rc sigv4_signing_key(const char *secret, const char *date, const char *region,
                        const char *service, sigv4_key_cache *cache, unsigned char key[32]);

/* Wipes the cached key. NULL-safe. */
void sigv4_key_cache_clear(sigv4_key_cache *cache);

/* Lowercase hex SHA-256 of len bytes at data into hex[65]. */
sf_rc sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* ---- The canonicalisation steps, exposed for tests and the fuzzer. ----
 * Each returns a NUL-terminated string in *out, owned by the caller (free),
 * or an error with *out NULL. */

/* RFC 3986 percent-encoding: A-Z a-z 0-9 - . _ ~ stay, and '/' too when
 * keep_slash; every other byte becomes %XX with uppercase hex. */
sf_rc sigv4_uri_encode(const char *s, size_t len, bool keep_slash, char **out);

/* Path normalisation (SIGV4_NORMALIZE_PATH): path must start with '/'.
 * "." and empty segments go, ".." removes the segment before it (never
 * above the root), and a trailing '/' stays. "//a/./b/../c/" -> "/a/c/". */
sf_rc sigv4_path_normalize(const char *path, char **out, char *err, size_t errlen);

/* The canonical URI: normalised when flags say so, then encoded (see
 * SIGV4_DOUBLE_ENCODE). */
sf_rc sigv4_canonical_uri(const char *path, unsigned flags, char **out, char *err, size_t errlen);

/* The canonical query string: each "k=v" decoded (%XX) then re-encoded,
 * a missing '=' meaning an empty value, sorted by key then value. */
sf_rc sigv4_canonical_query(const char *query, char **out, char *err, size_t errlen);

/* The canonical headers block ("name:value\n" per name, sorted, repeated
 * names joined with ',', values trimmed and inner whitespace runs
 * collapsed) and the SignedHeaders list ("host;x-amz-date"). Headers that
 * proxies rewrite (User-Agent, Connection...) are left unsigned. */
sf_rc sigv4_canonical_headers(const sigv4_header *headers, size_t n, char **canonical,
                              char **signed_names, char *err, size_t errlen);

#endif
