/* tests/kernels/test_hyper.c - hyperparameters checked the way SageMaker checks them. */
#include <criterion/criterion.h>
#include <string.h>

#include "kernels/kn_hyper.h"

static const kn_hp_spec specs[] = {
    {.name = "predictor_type",
     .type = KN_HP_CHOICE,
     .required = true,
     .choices = "binary_classifier|multiclass_classifier|regressor"},
    {.name = "epochs",
     .type = KN_HP_INT,
     .dflt = "15",
     .has_min = true,
     .min = 0,
     .min_open = true},
    {.name = "learning_rate",
     .type = KN_HP_FLOAT,
     .dflt = "auto",
     .allow_auto = true,
     .has_min = true,
     .min = 0,
     .min_open = true},
    {.name = "beta_1",
     .type = KN_HP_FLOAT,
     .dflt = "auto",
     .allow_auto = true,
     .has_min = true,
     .min = 0,
     .has_max = true,
     .max = 1,
     .max_open = true},
    {.name = "use_bias", .type = KN_HP_BOOL, .dflt = "true"},
    {.name = "eval_metrics", .type = KN_HP_JSON, .dflt = "[\"msd\"]"},
    {.name = "image_shape", .type = KN_HP_STRING},
    {.name = "num_classes",
     .type = KN_HP_INT,
     .has_min = true,
     .min = 3,
     .has_max = true,
     .max = 1000000},
    {.name = "positive_example_weight_mult",
     .type = KN_HP_FLOAT,
     .dflt = "1.0",
     .allow_auto = true,
     .choices = "balanced",
     .has_min = true,
     .min = 0,
     .min_open = true},
};
#define NSPECS (sizeof specs / sizeof specs[0])

static sf_rc parse(const char *json, kn_hp *out, kn_err *err)
{
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    if (json)
        cr_assert_not_null(j, "bad test JSON: %s", json);
    sf_rc rc = kn_hp_parse(specs, NSPECS, j, out, err);
    json_decref(j);
    return rc;
}

Test(hyper, fills_defaults_and_reads_given_values)
{
    kn_hp h;
    kn_err e = {{0}};
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"7\"}", &h, &e), SF_OK,
                 "%s", e.msg);
    cr_assert_str_eq(kn_hp_str(&h, "predictor_type"), "regressor");
    cr_assert_eq(kn_hp_int(&h, "epochs"), 7);
    cr_assert(kn_hp_is_auto(&h, "learning_rate"));
    cr_assert(kn_hp_bool(&h, "use_bias"));
    cr_assert_str_eq(kn_hp_str(&h, "eval_metrics"), "[\"msd\"]");
    cr_assert_not(kn_hp_is_set(&h, "num_classes"), "optional without default stays unset");
}

Test(hyper, refuses_a_missing_required_one)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"epochs\": \"3\"}", &h, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Missing required hyperparameter 'predictor_type'");
    cr_assert_eq(parse(NULL, &h, &e), SF_EINVAL, "no map at all is the same");
}

Test(hyper, refuses_a_non_integer_with_what_it_accepts)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"abc\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg,
                     "ClientError: Hyperparameter 'epochs' must be an integer greater than 0; "
                     "got 'abc'");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"2.5\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"0\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \" 3\"}", &h, &e),
                 SF_EINVAL, "no leading space");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"4.0\"}", &h, &e), SF_OK,
                 "an integral float is an integer");
    cr_assert_eq(kn_hp_int(&h, "epochs"), 4);
}

Test(hyper, says_did_you_mean_for_a_near_miss)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epoch\": \"3\"}", &h, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Unknown hyperparameter 'epoch' (did you mean 'epochs'?)");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"learning_rat\": \"3\"}", &h, &e),
                 SF_EINVAL);
    cr_assert(strstr(e.msg, "did you mean 'learning_rate'?"), "%s", e.msg);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"zzzzzz\": \"3\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Unknown hyperparameter 'zzzzzz'");
}

Test(hyper, checks_open_and_closed_bounds_and_auto)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"beta_1\": \"0\"}", &h, &e), SF_OK);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"beta_1\": \"1\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg,
                     "ClientError: Hyperparameter 'beta_1' must be 'auto' or a number in [0, 1); "
                     "got '1'");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"learning_rate\": \"auto\"}", &h, &e),
                 SF_OK);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": \"auto\"}", &h, &e),
                 SF_EINVAL, "auto only where the table allows it");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"learning_rate\": \"nan\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_eq(
        parse("{\"predictor_type\": \"multiclass_classifier\", \"num_classes\": \"2\"}", &h, &e),
        SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'num_classes' must be an integer in [3, "
                            "1000000]; got '2'");
}

Test(hyper, reads_booleans_as_the_sdk_writes_them)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"use_bias\": \"False\"}", &h, &e),
                 SF_OK);
    cr_assert_not(kn_hp_bool(&h, "use_bias"));
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"use_bias\": \"yes\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'use_bias' must be 'true' or 'false'; "
                            "got 'yes'");
}

Test(hyper, lists_the_choices_of_a_choice)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"classifier\"}", &h, &e), SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'predictor_type' must be one of "
                            "'binary_classifier', 'multiclass_classifier', 'regressor'; got "
                            "'classifier'");
}

Test(hyper, takes_json_numbers_and_booleans_as_their_strings)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": 12, \"use_bias\": false, "
                       "\"learning_rate\": 0.5}",
                       &h, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_eq(kn_hp_int(&h, "epochs"), 12);
    cr_assert_not(kn_hp_bool(&h, "use_bias"));
    cr_assert_float_eq(kn_hp_num(&h, "learning_rate"), 0.5, 1e-12);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": [1]}", &h, &e), SF_EINVAL);
}

Test(hyper, checks_json_text)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"eval_metrics\": \"[\\\"msd\\\", "
                       "\\\"ssd\\\"]\"}",
                       &h, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"eval_metrics\": \"[msd\"}", &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'eval_metrics' must be valid JSON; got "
                            "'[msd'");
}

Test(hyper, keeps_plain_text_for_the_algorithm_to_parse)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"image_shape\": \"1,28,28\"}", &h, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_str_eq(kn_hp_str(&h, "image_shape"), "1,28,28");
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"image_shape\": \"\"}", &h, &e),
                 SF_EINVAL);
    cr_assert(strstr(e.msg, "'image_shape' must be non-empty text of at most 255 bytes"), "%s",
              e.msg);
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\"}", &h, &e), SF_OK, "%s", e.msg);
    cr_assert_not(kn_hp_is_set(&h, "image_shape"));
}

Test(hyper, accepts_words_listed_beside_a_number)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"binary_classifier\", "
                       "\"positive_example_weight_mult\": \"balanced\"}",
                       &h, &e),
                 SF_OK, "%s", e.msg);
    cr_assert_str_eq(kn_hp_str(&h, "positive_example_weight_mult"), "balanced");
    cr_assert_eq(parse("{\"predictor_type\": \"binary_classifier\", "
                       "\"positive_example_weight_mult\": \"-1\"}",
                       &h, &e),
                 SF_EINVAL);
    cr_assert_str_eq(e.msg, "ClientError: Hyperparameter 'positive_example_weight_mult' must be "
                            "'auto' or 'balanced' or a number greater than 0; got '-1'");
}

Test(hyper, writes_back_every_value_as_a_string)
{
    kn_hp h;
    kn_err e;
    cr_assert_eq(parse("{\"predictor_type\": \"regressor\", \"epochs\": 5}", &h, &e), SF_OK);
    json_t *j = kn_hp_to_json(&h);
    cr_assert_str_eq(json_string_value(json_object_get(j, "epochs")), "5");
    cr_assert_str_eq(json_string_value(json_object_get(j, "learning_rate")), "auto");
    cr_assert_null(json_object_get(j, "num_classes"));
    kn_hp again;
    cr_assert_eq(kn_hp_parse(specs, NSPECS, j, &again, &e), SF_OK, "round trip: %s", e.msg);
    cr_assert_eq(kn_hp_int(&again, "epochs"), 5);
    json_decref(j);
}

Test(hyper, refuses_a_value_too_long_to_keep)
{
    kn_hp h;
    kn_err e;
    char big[600];
    memset(big, '1', 400);
    big[400] = '\0';
    json_t *j = json_pack("{s:s, s:s}", "predictor_type", "regressor", "epochs", big);
    cr_assert_eq(kn_hp_parse(specs, NSPECS, j, &h, &e), SF_EINVAL);
    cr_assert(strstr(e.msg, "'epochs' must be a string of at most 255"), "%s", e.msg);
    json_decref(j);
}
