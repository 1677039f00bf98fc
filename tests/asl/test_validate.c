/* tests/asl/test_validate.c - asl_validate judged against AWS.
 *
 * Two data-driven tests replay the conformance files: every definition in
 * definitions.jsonl must be accepted or refused as AWS did, and every
 * definition in executions.jsonl (all of which ran on AWS) must be accepted,
 * or refused as SF_EUNSUPPORTED where it uses JSONata. Mismatches print the
 * case id and our messages. The behaviour-named tests pin messages and their
 * locations. */
#define _GNU_SOURCE
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "coordinator/asl/validate.h"

/* Parses as the API front end does: NULs allowed inside strings (AWS sees
 * them), duplicate keys refused. NULL when text is not JSON. */
static json_t *parse(const char *text)
{
    json_error_t e;
    return json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &e);
}

static sf_rc judge(const char *text, asl_diag *d)
{
    json_t *def = parse(text);
    sf_rc rc = asl_validate(def, d);
    json_decref(def);
    return rc;
}

static bool uses_jsonata(json_t *j)
{
    const char *k;
    json_t *v;
    size_t i;
    if (json_is_object(j)) {
        json_object_foreach(j, k, v) {
            if (strcmp(k, "QueryLanguage") == 0 && json_is_string(v) &&
                strcmp(json_string_value(v), "JSONata") == 0)
                return true;
            if (uses_jsonata(v))
                return true;
        }
    } else if (json_is_array(j)) {
        json_array_foreach(j, i, v)
            if (uses_jsonata(v))
                return true;
    }
    return false;
}

static void print_diag(const asl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "    %s\n", d->msg[i]);
    if (d->dropped)
        fprintf(stderr, "    (%zu more)\n", d->dropped);
}

/* True when some message starts with prefix (a location, usually with its
 * ": "), and contains text (may be NULL). */
static bool has_msg(const asl_diag *d, const char *prefix, const char *text)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strncmp(d->msg[i], prefix, strlen(prefix)) != 0)
            continue;
        if (!text || strstr(d->msg[i], text))
            return true;
    }
    return false;
}

/* Every message is "LOCATION: WHAT" with a JSON-pointer location. */
static bool all_located(const asl_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->msg[i][0] != '/' || !strstr(d->msg[i], ": "))
            return false;
    return true;
}

typedef struct counts {
    int total, valid, jsonata, mismatches;
} counts;

/* Replays one JSONL file; field names where the definition and the verdict are. */
static counts replay(const char *path, bool from_executions)
{
    counts c = {0};
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot open %s", path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_error_t e;
        json_t *rec = json_loads(line, 0, &e);
        cr_assert_not_null(rec, "%s: bad line: %s", path, e.text);
        const char *id = json_string_value(json_object_get(rec, "id"));
        const char *text = json_string_value(json_object_get(rec, "definition"));
        cr_assert_not_null(text, "%s: no definition", id);
        bool valid = from_executions || json_is_true(json_object_get(rec, "expected_valid"));
        json_t *def = parse(text);
        bool ata = def && uses_jsonata(def);
        sf_rc want = !valid ? SF_EINVAL : ata ? SF_EUNSUPPORTED : SF_OK;

        asl_diag d = {0};
        sf_rc got = asl_validate(def, &d);
        bool ok = got == want;
        if (ok && want != SF_OK)
            ok = asl_diag_count(&d) > 0 && all_located(&d);
        if (ok && want == SF_OK)
            ok = asl_diag_count(&d) == 0;
        if (!ok) {
            fprintf(stderr, "MISMATCH %s: want %s, got %s\n", id, sf_rc_str(want),
                    sf_rc_str(got));
            print_diag(&d);
            c.mismatches++;
        }
        c.total++;
        c.valid += valid && !ata;
        c.jsonata += ata;
        asl_diag_clear(&d);
        json_decref(def);
        json_decref(rec);
    }
    free(line);
    fclose(f);
    return c;
}

Test(validate_conformance, definitions_judged_as_aws_did)
{
    counts c = replay(SF_SHARED_DIR "/conformance/definitions.jsonl", false);
    fprintf(stderr, "definitions.jsonl: %d cases, %d mismatches\n", c.total, c.mismatches);
    cr_assert_eq(c.total, 77);
    cr_assert_eq(c.mismatches, 0, "%d of %d definitions judged unlike AWS", c.mismatches,
                 c.total);
}

Test(validate_conformance, every_executed_definition_validates)
{
    counts c = replay(SF_SHARED_DIR "/conformance/executions.jsonl", true);
    fprintf(stderr, "executions.jsonl: %d cases (%d JSONPath, %d JSONata), %d mismatches\n",
            c.total, c.valid, c.jsonata, c.mismatches);
    cr_assert_geq(c.valid, 450);
    cr_assert_eq(c.mismatches, 0, "%d of %d executed definitions refused", c.mismatches,
                 c.total);
}

/* ---- focused behaviour ------------------------------------------------- */

/* Runs text, expects want, and returns the diagnostics for more checks. */
static asl_diag expect_rc(const char *text, sf_rc want)
{
    asl_diag d = {0};
    sf_rc got = judge(text, &d);
    if (got != want)
        print_diag(&d);
    cr_assert_eq(got, want, "want %s, got %s for %s", sf_rc_str(want), sf_rc_str(got), text);
    if (want != SF_OK)
        cr_assert(all_located(&d), "unlocated message for %s", text);
    return d;
}

static void expect_msg(const char *text, const char *prefix, const char *contains)
{
    asl_diag d = expect_rc(text, SF_EINVAL);
    if (!has_msg(&d, prefix, contains))
        print_diag(&d);
    cr_assert(has_msg(&d, prefix, contains), "no message '%s...%s' for %s", prefix,
              contains ? contains : "", text);
    asl_diag_clear(&d);
}

#define PASS_END "{\"Type\":\"Pass\",\"End\":true}"

Test(validate, accepts_minimal_machine)
{
    asl_diag d = expect_rc("{\"StartAt\":\"A\",\"States\":{\"A\":" PASS_END "}}", SF_OK);
    cr_assert_eq(asl_diag_count(&d), 0);
}

Test(validate, rejects_non_object)
{
    expect_msg("[1,2]", "/: ", "JSON object");
    asl_diag d = {0};
    cr_assert_eq(asl_validate(NULL, &d), SF_EINVAL);
    cr_assert_eq(asl_diag_count(&d), 1);
    asl_diag_clear(&d);
}

Test(validate, rejects_missing_start_at)
{
    expect_msg("{\"States\":{\"A\":" PASS_END "}}", "/: ", "[StartAt]");
    expect_msg("{}", "/: ", "[States, StartAt]");
}

Test(validate, rejects_start_at_naming_no_state)
{
    expect_msg("{\"StartAt\":\"B\",\"States\":{\"A\":" PASS_END "}}", "/StartAt: ", "'B'");
}

Test(validate, rejects_empty_states)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{}}", "/States: ", "non-empty");
}

Test(validate, rejects_bad_timeout_seconds)
{
    expect_msg("{\"StartAt\":\"A\",\"TimeoutSeconds\":0,\"States\":{\"A\":" PASS_END "}}",
               "/TimeoutSeconds: ", NULL);
    expect_msg("{\"StartAt\":\"A\",\"TimeoutSeconds\":\"5\",\"States\":{\"A\":" PASS_END "}}",
               "/TimeoutSeconds: ", "integer");
}

Test(validate, rejects_unknown_top_level_field)
{
    expect_msg("{\"StartAt\":\"A\",\"Foo\":1,\"States\":{\"A\":" PASS_END "}}", "/Foo: ",
               "not supported");
}

Test(validate, jsonata_machine_is_unsupported_not_invalid)
{
    asl_diag d = expect_rc("{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"A\",\"States\":{\"A\":"
                           "{\"Type\":\"Pass\",\"Output\":\"{% 1 %}\",\"End\":true}}}",
                           SF_EUNSUPPORTED);
    cr_assert(has_msg(&d, "/QueryLanguage: ", "QueryLanguage JSONata is not supported yet"));
    asl_diag_clear(&d);
}

Test(validate, jsonata_state_is_unsupported_at_its_location)
{
    asl_diag d = expect_rc("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\","
                           "\"QueryLanguage\":\"JSONata\",\"End\":true}}}",
                           SF_EUNSUPPORTED);
    cr_assert(has_msg(&d, "/States/A/QueryLanguage: ", "not supported yet"));
    asl_diag_clear(&d);
}

Test(validate, invalid_jsonata_machine_is_invalid)
{
    expect_msg("{\"QueryLanguage\":\"JSONata\",\"StartAt\":\"A\",\"States\":{\"A\":"
               "{\"Type\":\"Pass\",\"QueryLanguage\":\"JSONPath\",\"End\":true}}}",
               "/States/A: ", "can not be 'JSONPath'");
}

Test(validate, rejects_unknown_query_language)
{
    expect_msg("{\"QueryLanguage\":\"XPath\",\"StartAt\":\"A\",\"States\":{\"A\":" PASS_END
               "}}", "/QueryLanguage: ", NULL);
}

Test(validate, rejects_unknown_state_field)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Seconds\":1,"
               "\"End\":true}}}",
               "/States/A/Seconds: ", "Pass state");
}

Test(validate, rejects_missing_or_unknown_type)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"End\":true}}}", "/States/A: ", "'Type'");
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Lambda\",\"End\":true}}}",
               "/States/A/Type: ", NULL);
}

Test(validate, rejects_long_and_duplicate_state_names)
{
    char text[512];
    char name[82];
    memset(name, 'n', 81);
    name[81] = '\0';
    snprintf(text, sizeof text, "{\"StartAt\":\"%s\",\"States\":{\"%s\":" PASS_END "}}", name,
             name);
    expect_msg(text, "/States/nnnn", "longer than 80");
    name[80] = '\0'; /* exactly 80: fine */
    snprintf(text, sizeof text, "{\"StartAt\":\"%s\",\"States\":{\"%s\":" PASS_END "}}", name,
             name);
    asl_diag d = expect_rc(text, SF_OK);
    asl_diag_clear(&d);
    expect_msg("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,"
               "\"Branches\":[{\"StartAt\":\"P\",\"States\":{\"P\":" PASS_END "}}]}}}",
               "/States/P/Branches/0/States/P: ", "duplicate");
}

Test(validate, requires_exactly_one_of_next_and_end)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\"}}}", "/States/A: ",
               "'Next' or 'End'");
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"B\","
               "\"End\":true},\"B\":" PASS_END "}}",
               "/States/A: ", "only one");
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Succeed\",\"End\":true}}}",
               "/States/A/End: ", "not supported");
}

Test(validate, rejects_next_naming_no_state)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":{\"Type\":\"Pass\",\"Next\":\"Nope\"}}}",
               "/States/A/Next: ", "'Nope'");
}

Test(validate, rejects_unreachable_state)
{
    expect_msg("{\"StartAt\":\"A\",\"States\":{\"A\":" PASS_END ",\"Orphan\":" PASS_END "}}",
               "/States/Orphan: ", "not reachable");
}

Test(validate, reaches_states_through_choices_and_catch)
{
    asl_diag d = expect_rc(
        "{\"StartAt\":\"C\",\"States\":{"
        "\"C\":{\"Type\":\"Choice\",\"Choices\":[{\"Variable\":\"$.x\",\"IsPresent\":true,"
        "\"Next\":\"T\"}],\"Default\":\"D\"},"
        "\"T\":{\"Type\":\"Task\",\"Resource\":\"arn:aws:states:::lambda:invoke\","
        "\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"F\"}],\"End\":true},"
        "\"D\":{\"Type\":\"Succeed\"},\"F\":{\"Type\":\"Fail\",\"Error\":\"E\"}}}",
        SF_OK);
    asl_diag_clear(&d);
}

Test(validate, parallel_next_cannot_leave_branch)
{
    expect_msg("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"Next\":\"Out\","
               "\"Branches\":[{\"StartAt\":\"In\",\"States\":{\"In\":{\"Type\":\"Pass\","
               "\"Next\":\"Out\"}}}]},\"Out\":" PASS_END "}}",
               "/States/P/Branches/0/States/In/Next: ", "'Out'");
    expect_msg("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,"
               "\"Branches\":[]}}}",
               "/States/P/Branches: ", "non-empty");
    expect_msg("{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Parallel\",\"End\":true,"
               "\"Branches\":[{\"States\":{\"In\":" PASS_END "}}]}}}",
               "/States/P/Branches/0: ", "[StartAt]");
}

Test(validate, choice_needs_choices_with_next)
{
    expect_msg("{\"StartAt\":\"Check\",\"States\":{\"Check\":{\"Type\":\"Choice\","
               "\"Choices\":[{\"Variable\":\"$.x\",\"IsPresent\":true}],\"Default\":\"D\"},"
               "\"D\":{\"Type\":\"Succeed\"}}}",
               "/States/Check/Choices/0: ", "'Next'");
    expect_msg("{\"StartAt\":\"Check\",\"States\":{\"Check\":{\"Type\":\"Choice\","
               "\"Choices\":[],\"Default\":\"D\"},\"D\":{\"Type\":\"Succeed\"}}}",
               "/States/Check/Choices: ", "non-empty");
    expect_msg("{\"StartAt\":\"Check\",\"States\":{\"Check\":{\"Type\":\"Choice\","
               "\"Choices\":[{\"Variable\":\"$.x\",\"IsPresent\":true,\"Next\":\"D\"}],"
               "\"Default\":\"Gone\"},\"D\":{\"Type\":\"Succeed\"}}}",
               "/States/Check/Default: ", "'Gone'");
}

Test(validate, choice_rule_problems_are_located)
{
    /* The rule itself is judged by choice.c, at the rule's location. */
    asl_diag d = expect_rc("{\"StartAt\":\"Check\",\"States\":{\"Check\":{\"Type\":\"Choice\","
                           "\"Choices\":[{\"Variable\":\"$.x\",\"IsPresent\":true,"
                           "\"Next\":\"D\"},{\"Variable\":\"$.x\",\"NumericEquals\":\"one\","
                           "\"Next\":\"D\"}],\"Default\":\"D\"},\"D\":{\"Type\":\"Succeed\"}}}",
                           SF_EINVAL);
    cr_assert(has_msg(&d, "/States/Check/Choices/1", NULL));
    cr_assert_not(has_msg(&d, "/States/Check/Choices/0", NULL));
    asl_diag_clear(&d);
}

Test(validate, wait_needs_exactly_one_duration)
{
    expect_msg("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"End\":true}}}",
               "/States/W: ", "exactly one");
    expect_msg("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":1,"
               "\"SecondsPath\":\"$.s\",\"End\":true}}}",
               "/States/W: ", "exactly one");
    expect_msg("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":-1,"
               "\"End\":true}}}",
               "/States/W/Seconds: ", NULL);
    expect_msg("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":1.5,"
               "\"End\":true}}}",
               "/States/W/Seconds: ", "integer");
    expect_msg("{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\","
               "\"Timestamp\":\"2016-12-05T25:29:29Z\",\"End\":true}}}",
               "/States/W/Timestamp: ", "RFC3339");
}

Test(validate, fail_fields_are_exclusive)
{
    expect_msg("{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Error\":\"E\","
               "\"ErrorPath\":\"$.e\"}}}",
               "/States/F: ", "'Error' and 'ErrorPath'");
    expect_msg("{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"Cause\":\"C\","
               "\"CausePath\":\"$.c\"}}}",
               "/States/F: ", "'Cause' and 'CausePath'");
    expect_msg("{\"StartAt\":\"F\",\"States\":{\"F\":{\"Type\":\"Fail\",\"CausePath\":\"c\"}}}",
               "/States/F/CausePath: ", NULL);
}

#define TASK_HEAD "{\"StartAt\":\"T\",\"States\":{\"T\":{\"Type\":\"Task\",\"End\":true"
#define LAMBDA ",\"Resource\":\"arn:aws:states:::lambda:invoke\""

Test(validate, task_resource_and_timeouts)
{
    expect_msg(TASK_HEAD "}}}", "/States/T: ", "'Resource'");
    expect_msg(TASK_HEAD ",\"Resource\":\"lambda\"}}}", "/States/T/Resource: ", "ARN");
    expect_msg(TASK_HEAD ",\"Resource\":\"arn:aws:states:::sagemaker:createTrainingJob."
                         "waitForTaskToken\"}}}",
               "/States/T/Resource: ", "waitForTaskToken");
    expect_msg(TASK_HEAD LAMBDA ",\"TimeoutSeconds\":10,\"TimeoutSecondsPath\":\"$.t\"}}}",
               "/States/T: ", "mutually exclusive");
    expect_msg(TASK_HEAD LAMBDA ",\"TimeoutSeconds\":0}}}", "/States/T/TimeoutSeconds: ", NULL);
    expect_msg(TASK_HEAD LAMBDA ",\"TimeoutSeconds\":10,\"HeartbeatSeconds\":10}}}",
               "/States/T/HeartbeatSeconds: ", "smaller");
    expect_msg(TASK_HEAD LAMBDA ",\"Credentials\":{}}}}", "/States/T/Credentials: ",
               "'RoleArn'");
    asl_diag d = expect_rc(TASK_HEAD LAMBDA ",\"TimeoutSeconds\":10,\"HeartbeatSeconds\":5,"
                                            "\"Credentials\":{\"RoleArn\":\"arn:aws:iam::1:role/r\"}}}}",
                           SF_OK);
    asl_diag_clear(&d);
}

Test(validate, retry_rules)
{
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[]}]}}}",
               "/States/T/Retry/0/ErrorEquals: ", "non-empty");
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"States.ALL\",\"X\"]}]}}}",
               "/States/T/Retry/0/ErrorEquals: ", "alone");
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"States.ALL\"]},"
                                "{\"ErrorEquals\":[\"X\"]}]}}}",
               "/States/T/Retry/0: ", "last");
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"X\"],\"IntervalSeconds\":0}]}}}",
               "/States/T/Retry/0/IntervalSeconds: ", NULL);
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"X\"],\"MaxAttempts\":-1}]}}}",
               "/States/T/Retry/0/MaxAttempts: ", NULL);
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"X\"],\"BackoffRate\":0.5}]}}}",
               "/States/T/Retry/0/BackoffRate: ", NULL);
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"X\"],"
                                "\"JitterStrategy\":\"SOME\"}]}}}",
               "/States/T/Retry/0/JitterStrategy: ", NULL);
    expect_msg(TASK_HEAD LAMBDA ",\"Retry\":[{\"ErrorEquals\":[\"X\"],\"Foo\":1}]}}}",
               "/States/T/Retry/0/Foo: ", "not supported");
}

Test(validate, catch_rules)
{
    expect_msg(TASK_HEAD LAMBDA ",\"Catch\":[{\"ErrorEquals\":[\"X\"]}]}}}",
               "/States/T/Catch/0: ", "'Next'");
    expect_msg(TASK_HEAD LAMBDA ",\"Catch\":[{\"ErrorEquals\":[\"States.ALL\"],\"Next\":\"T\"},"
                                "{\"ErrorEquals\":[\"X\"],\"Next\":\"T\"}]}}}",
               "/States/T/Catch/0: ", "last");
    expect_msg(TASK_HEAD LAMBDA ",\"Catch\":[{\"ErrorEquals\":[\"X\"],\"Next\":\"T\","
                                "\"ResultPath\":\"$.a[*]\"}]}}}",
               "/States/T/Catch/0/ResultPath: ", "reference path");
}

#define MAP_HEAD "{\"StartAt\":\"M\",\"States\":{\"M\":{\"Type\":\"Map\",\"End\":true"
#define INLINE_BODY ",\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"INLINE\"}," \
                    "\"StartAt\":\"I\",\"States\":{\"I\":" PASS_END "}}"
#define DIST_BODY ",\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\"," \
                  "\"ExecutionType\":\"STANDARD\"},\"StartAt\":\"I\",\"States\":{\"I\":" \
                  PASS_END "}}"

Test(validate, map_rules)
{
    expect_msg(MAP_HEAD "}}}", "/States/M: ", "'ItemProcessor'");
    expect_msg(MAP_HEAD INLINE_BODY ",\"Iterator\":{\"StartAt\":\"J\",\"States\":{\"J\":"
                                    PASS_END "}}}}}",
               "/States/M: ", "mutually exclusive");
    expect_msg(MAP_HEAD INLINE_BODY ",\"Parameters\":{},\"ItemSelector\":{}}}}", "/States/M: ",
               "'Parameters' and 'ItemSelector'");
    expect_msg(MAP_HEAD INLINE_BODY ",\"ToleratedFailureCount\":-1}}}",
               "/States/M/ToleratedFailureCount: ", NULL);
    expect_msg(MAP_HEAD INLINE_BODY ",\"ToleratedFailureCount\":1,"
                                    "\"ToleratedFailureCountPath\":\"$.n\"}}}",
               "/States/M: ", "mutually exclusive");
    expect_msg(MAP_HEAD DIST_BODY ",\"ToleratedFailurePercentage\":101}}}",
               "/States/M/ToleratedFailurePercentage: ", NULL);
    expect_msg(MAP_HEAD INLINE_BODY ",\"ItemsPath\":\"$.a[*]\"}}}", "/States/M/ItemsPath: ",
               "reference path");
    expect_msg(MAP_HEAD INLINE_BODY ",\"MaxConcurrency\":1,\"MaxConcurrencyPath\":\"$.m\"}}}",
               "/States/M: ", "mutually exclusive");
    expect_msg(MAP_HEAD ",\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"SIDEWAYS\"},"
                        "\"StartAt\":\"I\",\"States\":{\"I\":" PASS_END "}}}}}",
               "/States/M/ItemProcessor/ProcessorConfig/Mode: ", NULL);
    expect_msg(MAP_HEAD ",\"ItemProcessor\":{\"ProcessorConfig\":{\"Mode\":\"DISTRIBUTED\","
                        "\"ExecutionType\":\"FAST\"},\"StartAt\":\"I\",\"States\":{\"I\":"
                        PASS_END "}}}}}",
               "/States/M/ItemProcessor/ProcessorConfig/ExecutionType: ", NULL);
    expect_msg(MAP_HEAD INLINE_BODY ",\"ItemReader\":{\"ReaderConfig\":{}}}}}",
               "/States/M/ItemReader: ", "'Resource'");
    expect_msg(MAP_HEAD ",\"ItemProcessor\":{\"StartAt\":\"I\",\"States\":{\"I\":{\"Type\":"
                        "\"Pass\",\"Next\":\"Out\"}}}},\"Out\":" PASS_END "}}",
               "/States/M/ItemProcessor/States/I/Next: ", NULL);
    asl_diag d = expect_rc(MAP_HEAD DIST_BODY ",\"ToleratedFailureCount\":1,\"Label\":\"ok_1\","
                                              "\"ItemSelector\":{\"v.$\":\"$$.Map.Item.Value\"}}}}",
                           SF_OK);
    asl_diag_clear(&d);
    /* AWS runs ToleratedFailure* on an INLINE Map too (executions.jsonl,
     * test_base_map[TOLERATED_FAILURE_COUNT]), so they are not refused there. */
    d = expect_rc(MAP_HEAD INLINE_BODY ",\"ToleratedFailurePercentage\":5}}}", SF_OK);
    asl_diag_clear(&d);
}

Test(validate, map_label_rules)
{
    expect_msg(MAP_HEAD DIST_BODY ",\"Label\":\"\"}}}", "/States/M/Label: ", "empty");
    expect_msg(MAP_HEAD DIST_BODY ",\"Label\":\"12345678901234567890123456789012345678901\"}}}",
               "/States/M/Label: ", "40");
    const char *bad[] = {"a b", "a?b", "a<b", "a{b", "a]b", "a*b", "a\\\"b", "a#b", "a%b",
                         "a\\\\b", "a^b", "a|b", "a~b", "a`b", "a$b", "a&b", "a,b", "a;b",
                         "a:b", "a/b", "a\\u0000b", "a\\u0007b", "a\\u007fb", "a\\u0085b",
                         "a\\u009eb", "a\\u3000b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[1024];
        snprintf(text, sizeof text, MAP_HEAD DIST_BODY ",\"Label\":\"%s\"}}}", bad[i]);
        expect_msg(text, "/States/M/Label: ", "invalid character");
    }
    asl_diag d = expect_rc(MAP_HEAD DIST_BODY ",\"Label\":\"caf\\u00e9-Map_1.x\"}}}", SF_OK);
    asl_diag_clear(&d);
}

#define PASS_WITH(fields) \
    "{\"StartAt\":\"P\",\"States\":{\"P\":{\"Type\":\"Pass\",\"End\":true," fields "}}}"

Test(validate, paths_are_checked)
{
    expect_msg(PASS_WITH("\"InputPath\":\"foo\""), "/States/P/InputPath: ", "JSONPath");
    expect_msg(PASS_WITH("\"OutputPath\":5"), "/States/P/OutputPath: ", NULL);
    expect_msg(PASS_WITH("\"ResultPath\":\"$.a[*]\""), "/States/P/ResultPath: ",
               "reference path");
    asl_diag d = expect_rc(PASS_WITH("\"InputPath\":null,\"OutputPath\":null,\"ResultPath\":null"),
                           SF_OK);
    asl_diag_clear(&d);
}

Test(validate, template_expressions_are_checked_at_any_depth)
{
    expect_msg(PASS_WITH("\"Parameters\":{\"a\":{\"b\":[{\"c.$\":\"nope\"}]}}"),
               "/States/P/Parameters/a/b/0/c.$: ", "valid JSONPath or a valid intrinsic");
    expect_msg(PASS_WITH("\"Parameters\":{\"c.$\":42}"), "/States/P/Parameters/c.$: ", NULL);
    expect_msg(PASS_WITH("\"Parameters\":{\"c.$\":\"States.NoSuchFunction(1)\"}"),
               "/States/P/Parameters/c.$: ", NULL);
    asl_diag d = expect_rc(PASS_WITH("\"Parameters\":{\"a.$\":\"$.x\",\"b.$\":\"States.Format("
                                     "'{}', $.y)\",\"c\":\"$.literal\"}"),
                           SF_OK);
    asl_diag_clear(&d);
}

Test(validate, assign_names_and_values)
{
    expect_msg(PASS_WITH("\"Assign\":{\"1abc\":1}"), "/States/P/Assign/1abc: ", "variable name");
    expect_msg(PASS_WITH("\"Assign\":{\"a-b\":1}"), "/States/P/Assign/a-b: ", "variable name");
    expect_msg(PASS_WITH("\"Assign\":{\"x.$\":\"nope\"}"), "/States/P/Assign/x.$: ", NULL);
    expect_msg(PASS_WITH("\"Assign\":[]"), "/States/P/Assign: ", "object");
    asl_diag d = expect_rc(PASS_WITH("\"Assign\":{\"x\":1,\"y.$\":\"$.a\",\"_z\":{\"w.$\":\"$x\"}}"),
                           SF_OK);
    asl_diag_clear(&d);
}

Test(validate, messages_past_the_cap_are_counted)
{
    /* 100 unknown fields: every one is a problem, the first 64 are kept. */
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"StartAt\":\"A\",\"States\":{\"A\":"
                                                   "{\"Type\":\"Pass\",\"End\":true");
    for (int i = 0; i < 100; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, ",\"F%d\":1", i);
    snprintf(text + n, sizeof text - n, "}}}");
    asl_diag d = expect_rc(text, SF_EINVAL);
    cr_assert_eq(d.n, ASL_DIAG_MAX);
    cr_assert_eq(asl_diag_count(&d), 100);
    asl_diag_clear(&d);
}

Test(validate, deep_nesting_is_refused_not_crashed)
{
    /* 40 Parallel states nested in each other's branches. */
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    cr_assert_not_null(text);
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, cap - n, "{\"StartAt\":\"P%d\",\"States\":{\"P%d\":"
                                                 "{\"Type\":\"Parallel\",\"End\":true,"
                                                 "\"Branches\":[", i, i);
    n += (size_t)snprintf(text + n, cap - n, "{\"StartAt\":\"L\",\"States\":{\"L\":" PASS_END "}}");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, cap - n, "]}}}");
    asl_diag d = expect_rc(text, SF_EINVAL);
    cr_assert(has_msg(&d, "/States/P0/Branches/0", "nested"));
    asl_diag_clear(&d);
    free(text);
}
