/* service/svc_token.c - task tokens that cannot be guessed or forged.
 *
 * A token is base64url(version | execution id | nonce | tag): the nonce is
 * the engine's 128-bit raw token (random per execution seed, and
 * reproduced on replay), the tag the first 160 bits of
 * HMAC-SHA256(coordinator key, version | execution id | nonce). Anyone
 * may hold a token; only the coordinator can make one, and a changed byte
 * anywhere fails the tag. The execution id lets a token find its
 * execution without a lookup table. */
#include "svc_internal.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "../../common/sf_hex.h"

#define TOKEN_VERSION 1
#define NONCE_LEN 16
#define TAG_LEN 20 /* makes RAW_LEN a multiple of 3: no padding, one spelling per token */
#define BODY_LEN (1 + 8 + NONCE_LEN)
#define RAW_LEN (BODY_LEN + TAG_LEN)
#define TOKEN_CHARS 60 /* base64url of RAW_LEN bytes */

static void tag(const unsigned char key[32], const unsigned char *body, unsigned char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    HMAC(EVP_sha256(), key, 32, body, BODY_LEN, mac, &len);
    memcpy(out, mac, TAG_LEN);
}

char *svc_token_seal(const unsigned char key[32], int64_t exec_id, const char *raw)
{
    unsigned char bin[RAW_LEN];
    bin[0] = TOKEN_VERSION;
    for (int i = 0; i < 8; i++)
        bin[1 + i] = (unsigned char)((uint64_t)exec_id >> (56 - 8 * i));
    size_t rl = strlen(raw);
    if (rl != 2 * NONCE_LEN)
        return NULL;
    for (int i = 0; i < NONCE_LEN; i++) {
        int hi = sf_hex_digit(raw[2 * i]), lo = sf_hex_digit(raw[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return NULL;
        bin[9 + i] = (unsigned char)(hi << 4 | lo);
    }
    tag(key, bin, bin + BODY_LEN);
    /* Standard base64 from OpenSSL, then the URL-safe alphabet without
     * padding: tokens travel in approval links. */
    unsigned char b64[64];
    int n = EVP_EncodeBlock(b64, bin, RAW_LEN);
    char *out = malloc((size_t)n + 1);
    if (!out)
        return NULL;
    int k = 0;
    for (int i = 0; i < n; i++) {
        char c = (char)b64[i];
        if (c == '=')
            break;
        out[k++] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    out[k] = '\0';
    return out;
}

sf_rc svc_token_open(const unsigned char key[32], const char *token, int64_t *exec_id)
{
    if (strlen(token) != TOKEN_CHARS)
        return SF_EINVAL;
    char b64[TOKEN_CHARS + 5];
    for (int i = 0; i < TOKEN_CHARS; i++) {
        char c = token[i];
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return SF_EINVAL;
        b64[i] = c;
    }
    int len = TOKEN_CHARS;
    while (len % 4)
        b64[len++] = '=';
    b64[len] = '\0';
    unsigned char bin[64];
    if (EVP_DecodeBlock(bin, (const unsigned char *)b64, len) < RAW_LEN)
        return SF_EINVAL;
    if (bin[0] != TOKEN_VERSION)
        return SF_EINVAL;
    unsigned char want[TAG_LEN];
    tag(key, bin, want);
    if (CRYPTO_memcmp(want, bin + BODY_LEN, TAG_LEN) != 0)
        return SF_EINVAL;
    uint64_t id = 0;
    for (int i = 0; i < 8; i++)
        id = id << 8 | bin[1 + i];
    *exec_id = (int64_t)id;
    return SF_OK;
}
