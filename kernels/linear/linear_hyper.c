/* kernels/linear/linear_hyper.c - linear-learner's hyperparameters.
 *
 * Names, defaults and ranges are SageMaker's (facts §4.1). "auto" means
 * "SageMaker tunes it", which it does by training many models at once
 * with different settings; here each "auto" resolves to one fixed value,
 * chosen to converge on standardised features, and written down below so
 * a result can be reproduced. */
#include <string.h>

#include "linear.h"

#define GT0 .has_min = true, .min = 0, .min_open = true
#define GE0 .has_min = true, .min = 0
#define UNIT_OPEN                                                                                  \
    .has_min = true, .min = 0, .min_open = true, .has_max = true, .max = 1, .max_open = true
#define UNIT_HALF .has_min = true, .min = 0, .has_max = true, .max = 1, .max_open = true

const kn_hp_spec kn_linear_hyper[] = {
    {.name = "accuracy_top_k", .type = KN_HP_INT, .dflt = "3", GT0},
    {.name = "balance_multiclass_weights", .type = KN_HP_BOOL, .dflt = "false"},
    {.name = "beta_1", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, UNIT_HALF},
    {.name = "beta_2", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, UNIT_HALF},
    {.name = "bias_lr_mult", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "bias_wd_mult", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, GE0},
    {.name = "binary_classifier_model_selection_criteria",
     .type = KN_HP_CHOICE,
     .dflt = "accuracy",
     .choices = "accuracy|f_beta|precision_at_target_recall|recall_at_target_precision|"
                "loss_function|f1|cross_entropy_loss"},
    {.name = "early_stopping_patience", .type = KN_HP_INT, .dflt = "3", GT0},
    {.name = "early_stopping_tolerance", .type = KN_HP_FLOAT, .dflt = "0.001", GT0},
    {.name = "epochs", .type = KN_HP_INT, .dflt = "15", GT0},
    {.name = "f_beta", .type = KN_HP_FLOAT, .dflt = "1.0", GT0},
    {.name = "feature_dim", .type = KN_HP_INT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "huber_delta", .type = KN_HP_FLOAT, .dflt = "1.0", GE0},
    {.name = "init_bias", .type = KN_HP_FLOAT, .dflt = "0"},
    {.name = "init_method", .type = KN_HP_CHOICE, .dflt = "uniform", .choices = "uniform|normal"},
    {.name = "init_scale", .type = KN_HP_FLOAT, .dflt = "0.07", GT0},
    {.name = "init_sigma", .type = KN_HP_FLOAT, .dflt = "0.01", GT0},
    {.name = "l1", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, GE0},
    {.name = "learning_rate", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "loss",
     .type = KN_HP_CHOICE,
     .dflt = "auto",
     .allow_auto = true,
     .choices = "logistic|softmax_loss|squared_loss|absolute_loss|hinge_loss|"
                "eps_insensitive_squared_loss|eps_insensitive_absolute_loss|quantile_loss|"
                "huber_loss"},
    {.name = "loss_insensitivity", .type = KN_HP_FLOAT, .dflt = "0.01", GT0},
    {.name = "lr_scheduler_factor",
     .type = KN_HP_FLOAT,
     .dflt = "auto",
     .allow_auto = true,
     UNIT_OPEN},
    {.name = "lr_scheduler_minimum_lr",
     .type = KN_HP_FLOAT,
     .dflt = "auto",
     .allow_auto = true,
     GT0},
    {.name = "lr_scheduler_step", .type = KN_HP_INT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "margin", .type = KN_HP_FLOAT, .dflt = "1.0", GE0},
    {.name = "mini_batch_size", .type = KN_HP_INT, .dflt = "1000", GT0},
    {.name = "momentum", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, UNIT_HALF},
    {.name = "normalize_data", .type = KN_HP_BOOL, .dflt = "true", .allow_auto = true},
    {.name = "normalize_label", .type = KN_HP_BOOL, .dflt = "auto", .allow_auto = true},
    {.name = "num_calibration_samples", .type = KN_HP_INT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "num_classes",
     .type = KN_HP_INT,
     .has_min = true,
     .min = 3,
     .has_max = true,
     .max = 1000000},
    {.name = "num_models", .type = KN_HP_INT, .dflt = "auto", .allow_auto = true, GT0},
    {.name = "num_point_for_scaler", .type = KN_HP_INT, .dflt = "10000", GT0},
    {.name = "optimizer",
     .type = KN_HP_CHOICE,
     .dflt = "auto",
     .allow_auto = true,
     .choices = "sgd|adam|rmsprop"},
    {.name = "positive_example_weight_mult",
     .type = KN_HP_FLOAT,
     .dflt = "1.0",
     .allow_auto = true,
     .choices = "balanced",
     GT0},
    {.name = "predictor_type",
     .type = KN_HP_CHOICE,
     .required = true,
     .choices = "binary_classifier|multiclass_classifier|regressor"},
    {.name = "quantile", .type = KN_HP_FLOAT, .dflt = "0.5", UNIT_OPEN},
    {.name = "target_precision", .type = KN_HP_FLOAT, .dflt = "0.8", UNIT_OPEN},
    {.name = "target_recall", .type = KN_HP_FLOAT, .dflt = "0.8", UNIT_OPEN},
    {.name = "unbias_data", .type = KN_HP_BOOL, .dflt = "auto", .allow_auto = true},
    {.name = "unbias_label", .type = KN_HP_BOOL, .dflt = "auto", .allow_auto = true},
    {.name = "use_bias", .type = KN_HP_BOOL, .dflt = "true"},
    {.name = "use_lr_scheduler", .type = KN_HP_BOOL, .dflt = "true"},
    {.name = "wd", .type = KN_HP_FLOAT, .dflt = "auto", .allow_auto = true, GE0},
};
_Static_assert(sizeof kn_linear_hyper / sizeof kn_linear_hyper[0] == LL_NHYPER,
               "LL_NHYPER must match the table");

static const char *const loss_names[] = {
    [LL_LOGISTIC] = "logistic",
    [LL_SOFTMAX] = "softmax_loss",
    [LL_SQUARED] = "squared_loss",
    [LL_ABSOLUTE] = "absolute_loss",
    [LL_HINGE] = "hinge_loss",
    [LL_HUBER] = "huber_loss",
    [LL_QUANTILE] = "quantile_loss",
    [LL_EPS_SQUARED] = "eps_insensitive_squared_loss",
    [LL_EPS_ABSOLUTE] = "eps_insensitive_absolute_loss",
};

const char *ll_loss_name(ll_loss l)
{
    return loss_names[l];
}

static double num_or(const kn_hp *hp, const char *name, double when_auto)
{
    return kn_hp_is_auto(hp, name) ? when_auto : kn_hp_num(hp, name);
}

/* Which losses make sense for which predictor: SageMaker's lists. */
static bool loss_fits(ll_kind kind, ll_loss l)
{
    switch (kind) {
    case LL_BINARY:
        return l == LL_LOGISTIC || l == LL_HINGE;
    case LL_MULTICLASS:
        return l == LL_SOFTMAX;
    case LL_REGRESSOR:
        return l == LL_SQUARED || l == LL_ABSOLUTE || l == LL_HUBER || l == LL_QUANTILE ||
               l == LL_EPS_SQUARED || l == LL_EPS_ABSOLUTE;
    }
    return false;
}

sf_rc ll_config_from_hp(const kn_hp *hp, ll_config *c, kn_err *err)
{
    memset(c, 0, sizeof *c);
    const char *pt = kn_hp_str(hp, "predictor_type");
    c->kind = strcmp(pt, "binary_classifier") == 0       ? LL_BINARY
              : strcmp(pt, "multiclass_classifier") == 0 ? LL_MULTICLASS
                                                         : LL_REGRESSOR;
    c->k = 1;
    if (c->kind == LL_MULTICLASS) {
        if (!kn_hp_is_set(hp, "num_classes"))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: Missing required hyperparameter 'num_classes' (required "
                           "when predictor_type is multiclass_classifier)");
        c->k = (size_t)kn_hp_int(hp, "num_classes");
    }

    static const ll_loss auto_loss[] = {
        [LL_BINARY] = LL_LOGISTIC, [LL_MULTICLASS] = LL_SOFTMAX, [LL_REGRESSOR] = LL_SQUARED};
    c->loss = auto_loss[c->kind];
    if (!kn_hp_is_auto(hp, "loss")) {
        const char *l = kn_hp_str(hp, "loss");
        for (size_t i = 0; i < sizeof loss_names / sizeof loss_names[0]; i++)
            if (strcmp(l, loss_names[i]) == 0)
                c->loss = (ll_loss)i;
        if (!loss_fits(c->kind, c->loss))
            return kn_fail(err, SF_EINVAL,
                           "ClientError: Hyperparameter 'loss' '%s' cannot be used with "
                           "predictor_type '%s'",
                           l, pt);
    }

    const char *opt = kn_hp_str(hp, "optimizer");
    c->optimizer = kn_hp_is_auto(hp, "optimizer") || strcmp(opt, "adam") == 0 ? LL_ADAM
                   : strcmp(opt, "sgd") == 0                                  ? LL_SGD
                                                                              : LL_RMSPROP;
    /* auto learning rates: values that converge in a few epochs on
     * standardised data for each optimizer (SageMaker searches instead). */
    static const double auto_lr[] = {[LL_SGD] = 0.01, [LL_ADAM] = 0.01, [LL_RMSPROP] = 0.005};
    c->lr = num_or(hp, "learning_rate", auto_lr[c->optimizer]);
    c->beta1 = num_or(hp, "beta_1", 0.9);
    c->beta2 = num_or(hp, "beta_2", 0.999);
    c->momentum = num_or(hp, "momentum", c->optimizer == LL_SGD ? 0.9 : 0.0);
    c->l1 = num_or(hp, "l1", 0.0);
    c->wd = num_or(hp, "wd", 0.0);
    c->bias_lr_mult = num_or(hp, "bias_lr_mult", 1.0);
    c->bias_wd_mult = num_or(hp, "bias_wd_mult", 0.0); /* the bias is not shrunk */

    const char *sel = kn_hp_str(hp, "binary_classifier_model_selection_criteria");
    c->f_beta = kn_hp_num(hp, "f_beta");
    c->selection = LL_SEL_ACCURACY;
    if (strcmp(sel, "f_beta") == 0)
        c->selection = LL_SEL_F_BETA;
    else if (strcmp(sel, "f1") == 0)
        c->selection = LL_SEL_F_BETA, c->f_beta = 1.0;
    else if (strcmp(sel, "precision_at_target_recall") == 0)
        c->selection = LL_SEL_PRECISION_AT_RECALL;
    else if (strcmp(sel, "recall_at_target_precision") == 0)
        c->selection = LL_SEL_RECALL_AT_PRECISION;
    else if (strcmp(sel, "loss_function") == 0 || strcmp(sel, "cross_entropy_loss") == 0)
        c->selection = LL_SEL_LOSS;
    c->target_precision = kn_hp_num(hp, "target_precision");
    c->target_recall = kn_hp_num(hp, "target_recall");

    c->num_models = (size_t)num_or(hp, "num_models", 1);
    c->feature_dim = (size_t)num_or(hp, "feature_dim", 0);
    c->epochs = (size_t)kn_hp_int(hp, "epochs");
    c->batch = (size_t)kn_hp_int(hp, "mini_batch_size");
    c->use_bias = kn_hp_bool(hp, "use_bias");
    c->normalize_data = kn_hp_is_auto(hp, "normalize_data") || kn_hp_bool(hp, "normalize_data");
    /* Centring the features is only free when a bias can absorb it. */
    c->unbias_data = kn_hp_is_auto(hp, "unbias_data") ? c->use_bias : kn_hp_bool(hp, "unbias_data");
    bool reg = c->kind == LL_REGRESSOR;
    c->normalize_label =
        reg && (kn_hp_is_auto(hp, "normalize_label") || kn_hp_bool(hp, "normalize_label"));
    c->unbias_label =
        reg && (kn_hp_is_auto(hp, "unbias_label") ? c->use_bias : kn_hp_bool(hp, "unbias_label"));
    c->num_point_for_scaler = (size_t)kn_hp_int(hp, "num_point_for_scaler");
    c->num_calibration_samples = (size_t)num_or(hp, "num_calibration_samples", 100000);

    const char *pw = kn_hp_str(hp, "positive_example_weight_mult");
    c->pos_weight = strcmp(pw, "balanced") == 0 ? -1.0
                    : kn_hp_is_auto(hp, "positive_example_weight_mult")
                        ? 1.0
                        : kn_hp_num(hp, "positive_example_weight_mult");
    c->balance_multiclass = kn_hp_bool(hp, "balance_multiclass_weights");
    c->huber_delta = kn_hp_num(hp, "huber_delta");
    c->quantile = kn_hp_num(hp, "quantile");
    c->margin = kn_hp_num(hp, "margin");
    c->eps_insensitivity = kn_hp_num(hp, "loss_insensitivity");
    c->top_k = (size_t)kn_hp_int(hp, "accuracy_top_k");
    c->patience = (size_t)kn_hp_int(hp, "early_stopping_patience");
    c->tolerance = kn_hp_num(hp, "early_stopping_tolerance");

    c->use_scheduler = kn_hp_bool(hp, "use_lr_scheduler");
    c->sched_factor = num_or(hp, "lr_scheduler_factor", 0.9);
    c->sched_step = (size_t)num_or(hp, "lr_scheduler_step", 100);
    c->sched_min_lr = num_or(hp, "lr_scheduler_minimum_lr", c->lr < 1e-5 ? c->lr : 1e-5);

    c->init_normal = strcmp(kn_hp_str(hp, "init_method"), "normal") == 0;
    c->init_scale = kn_hp_num(hp, "init_scale");
    c->init_sigma = kn_hp_num(hp, "init_sigma");
    c->init_bias = kn_hp_num(hp, "init_bias");
    return SF_OK;
}
