/* kernels/transform/kn_transform_jsonpath.h - the JSONPath subset of
 * DataProcessing filters.
 *
 * SageMaker documents InputFilter and OutputFilter with examples such as
 * "$", "$[1:]", "$[0,5:]", "$.features" and "$['id','SageMakerOutput']".
 * We take: "$", then any number of key steps (".name" or "['name']"),
 * then at most one final selector: a list of keys "['a','b']" (an object
 * of those keys) or a list of indexes and slices "[0,2,5:,-1,:3]" (an
 * array of those elements, in the order listed). A CSV record is an array
 * of its fields, so only "$" and index lists apply to it. Anything else is
 * refused when the job is checked, not when a record is met. */
#ifndef KN_TRANSFORM_JSONPATH_H
#define KN_TRANSFORM_JSONPATH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "kernels/kn_types.h"

#define KN_JP_STEPS 8
#define KN_JP_ITEMS 16
#define KN_JP_NAME 64

typedef struct kn_jp_item {
    bool slice; /* lo:hi, else the single index lo */
    bool has_lo, has_hi;
    long lo, hi; /* negative counts from the end */
} kn_jp_item;

typedef enum {
    KN_JP_NONE,    /* no final selector */
    KN_JP_KEYS,    /* ['a','b'] */
    KN_JP_INDEXES, /* [0,5:] */
} kn_jp_select;

typedef struct kn_jpath {
    char text[80];                       /* as given, for errors */
    char steps[KN_JP_STEPS][KN_JP_NAME]; /* keys to descend through */
    size_t nsteps;
    kn_jp_select select;
    char keys[KN_JP_ITEMS][KN_JP_NAME]; /* KN_JP_KEYS */
    kn_jp_item items[KN_JP_ITEMS];      /* KN_JP_INDEXES */
    size_t nitems;
} kn_jpath;

/* Parses text (NULL or "": "$"); field names the request field in errors. */
sf_rc kn_jp_parse(const char *text, const char *field, kn_jpath *out, kn_err *err);

/* Whether p is "$" (keeps everything). */
bool kn_jp_is_root(const kn_jpath *p);
/* Whether p applies to a CSV record: "$" or a bare index list. */
bool kn_jp_fits_csv(const kn_jpath *p);

/* The indexes p selects from n elements, in order, into idx (room for
 * max); returns how many (at most max). */
size_t kn_jp_indexes(const kn_jpath *p, size_t n, size_t *idx, size_t max);

/* Applies p to v (borrowed); *out is a new reference, or NULL when a step
 * is missing (then why says which). */
json_t *kn_jp_apply(const kn_jpath *p, json_t *v, char *why, size_t whylen);

#endif
