/* kernels/kn_hyper.h - SageMaker hyperparameters: strings in, checked values out.
 *
 * A training job's HyperParameters are a map of strings ("epochs": "15",
 * "predictor_type": "binary_classifier", "eval_metrics": "[\"msd\"]").
 * Each algorithm declares its own in a table; kn_hp_parse checks a job's
 * map against it the way SageMaker does before training starts: an
 * unknown name, a missing required one, a value of the wrong type or out
 * of range fails the job with a ClientError naming the hyperparameter and
 * what it accepts. Defaults fill in what was not given. */
#ifndef KN_HYPER_H
#define KN_HYPER_H

#include <jansson.h>

#include "kn_types.h"

typedef enum {
    KN_HP_INT,    /* a whole number */
    KN_HP_FLOAT,  /* a number */
    KN_HP_BOOL,   /* "true" / "false" (any case, as the SDK writes "True") */
    KN_HP_CHOICE, /* one of choices */
    KN_HP_JSON,   /* JSON text, kept as text (eval_metrics: ["msd"]) */
    KN_HP_STRING, /* any non-empty text up to 255 bytes; the algorithm parses it
                     (image_shape: "1,28,28" or "[1,28,28]") */
} kn_hp_type;

typedef struct kn_hp_spec {
    const char *name;
    kn_hp_type type;
    bool required;
    const char *dflt; /* as the string SageMaker would get; NULL: no default */
    bool allow_auto;  /* "auto" is accepted besides the type's values */
    bool has_min, has_max;
    double min, max;         /* bounds for INT and FLOAT */
    bool min_open, max_open; /* exclusive bounds: (0, 1) */
    const char *choices;     /* KN_HP_CHOICE: "sgd|adam|rmsprop" */
} kn_hp_spec;

#define KN_HP_MAX 64

typedef struct kn_hp_value {
    const char *name; /* the spec's */
    bool set;         /* given, or defaulted */
    bool is_auto;     /* the value was "auto" */
    double num;       /* INT, FLOAT; BOOL as 0/1 */
    char text[256];   /* the string as given (CHOICE, JSON and STRING read this) */
} kn_hp_value;

typedef struct kn_hp {
    kn_hp_value v[KN_HP_MAX];
    size_t n;
} kn_hp;

/* Checks given (a JSON object of strings; numbers and booleans are taken
 * as the SDK would stringify them; NULL: none given) against specs. */
sf_rc kn_hp_parse(const kn_hp_spec *specs, size_t nspecs, json_t *given, kn_hp *out, kn_err *err);

/* Lookups by name; a name not in the specs is a programming error (abort).
 * kn_hp_is_set is false for an optional one without default, not given. */
bool kn_hp_is_set(const kn_hp *h, const char *name);
bool kn_hp_is_auto(const kn_hp *h, const char *name);
int64_t kn_hp_int(const kn_hp *h, const char *name);
double kn_hp_num(const kn_hp *h, const char *name);
bool kn_hp_bool(const kn_hp *h, const char *name);
const char *kn_hp_str(const kn_hp *h, const char *name);

/* The values as a JSON object of strings, as DescribeTrainingJob shows them. */
json_t *kn_hp_to_json(const kn_hp *h);

#endif
