/* tests/asl/test_jsonpath.c - JSONPath compile, evaluate, normalize and set.
 *
 * Most cases are (path, document, expected) triples in tables below; each
 * table runs as one test so that a failure names the row. Expected results
 * follow Jayway JsonPath, which is what AWS Step Functions runs. */
#include <criterion/criterion.h>
#include <string.h>

#include "coordinator/asl/jsonpath.h"

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *v = json_loads(text, JSON_DECODE_ANY, &je);
    cr_assert(v, "bad test JSON %s: %s", text, je.text);
    return v;
}

static asl_path *compile_ok(const char *text)
{
    asl_path *p = NULL;
    char err[200] = "";
    sf_rc rc = asl_path_compile(text, &p, err, sizeof err);
    cr_assert_eq(rc, SF_OK, "compile %s: %s (%s)", text, sf_rc_str(rc), err);
    cr_assert(p);
    return p;
}

/* Evaluates path on doc and compares with want (JSON text) or, when want is
 * NULL, expects SF_ENOTFOUND. */
static void check_eval(const char *path, const char *doc, const char *want)
{
    asl_path *p = compile_ok(path);
    json_t *d = parse(doc), *got = NULL;
    sf_rc rc = asl_path_eval(p, d, &got);
    if (!want) {
        cr_expect_eq(rc, SF_ENOTFOUND, "%s on %s: want not found, got %s", path, doc,
                     sf_rc_str(rc));
        cr_expect_null(got);
    } else {
        json_t *w = parse(want);
        char *gs = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
        cr_expect_eq(rc, SF_OK, "%s on %s: %s", path, doc, sf_rc_str(rc));
        cr_expect(got && json_equal(got, w), "%s on %s: want %s, got %s", path, doc, want,
                  gs ? gs : "(null)");
        free(gs);
        json_decref(w);
    }
    json_decref(got);
    json_decref(d);
    asl_path_destroy(&p);
}

static const char *store =
    "{\"store\":{\"book\":["
    "{\"category\":\"reference\",\"author\":\"Nigel Rees\",\"price\":8.95},"
    "{\"category\":\"fiction\",\"author\":\"Evelyn Waugh\",\"price\":12.99},"
    "{\"category\":\"fiction\",\"author\":\"Herman Melville\",\"isbn\":\"0-553-21311-3\","
    "\"price\":8.99},"
    "{\"category\":\"fiction\",\"author\":\"J. R. R. Tolkien\",\"isbn\":\"0-395-19395-8\","
    "\"price\":22.99}],"
    "\"bicycle\":{\"color\":\"red\",\"price\":19.95}},\"expensive\":10}";

typedef struct {
    const char *path, *doc, *want;
} eval_case;

Test(jsonpath, definite_paths_yield_the_value)
{
    static const eval_case cases[] = {
        {"$", "{\"a\":1}", "{\"a\":1}"},
        {"$.a", "{\"a\":1}", "1"},
        {"$.a.b", "{\"a\":{\"b\":[1,2]}}", "[1,2]"},
        {"$['a']", "{\"a\":1}", "1"},
        {"$[\"a\"]", "{\"a\":1}", "1"},
        {"$['a b']", "{\"a b\":1}", "1"},
        {"$['it\\'s']", "{\"it's\":1}", "1"},
        {"$[ 'a' ]", "{\"a\":1}", "1"},
        {"$.a[0]", "{\"a\":[5,6,7]}", "5"},
        {"$.a[2]", "{\"a\":[5,6,7]}", "7"},
        {"$.a[-1]", "{\"a\":[5,6,7]}", "7"},
        {"$.a[-3]", "{\"a\":[5,6,7]}", "5"},
        {"$[1]", "[5,6,7]", "6"},
        {"$.a-b", "{\"a-b\":1}", "1"},
        {"$.a:b", "{\"a:b\":2}", "2"},
        {"$.a$", "{\"a$\":3}", "3"},
        {"$.0", "{\"0\":4}", "4"},
        {"$.a", "{\"a\":null}", "null"},
        {"$.a", "{\"a\":false}", "false"},
        {"  $.a  ", "{\"a\":1}", "1"},
        {"$.Execution.Input", "{\"Execution\":{\"Input\":{\"x\":1}}}", "{\"x\":1}"},
        {"$.a.['b']", "{\"a\":{\"b\":9}}", "9"},
        {"$['caf\\u00e9']", "{\"caf\\u00e9\":1}", "1"},
        {"$['a','b']", "{\"a\":1,\"b\":2,\"c\":3}", "{\"a\":1,\"b\":2}"},
        {"$['a','zz']", "{\"a\":1,\"b\":2}", "{\"a\":1}"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc, cases[i].want);
}

Test(jsonpath, missing_key_is_not_found)
{
    static const eval_case cases[] = {
        {"$.NoSuchInputPath", "{\"a\":1}", NULL},
        {"$.a.b", "{\"a\":{}}", NULL},
        {"$.a.b", "{}", NULL},
        {"$.a.b", "{\"a\":\"str\"}", NULL},
        {"$.a[3]", "{\"a\":[1,2,3]}", NULL},
        {"$.a[-4]", "{\"a\":[1,2,3]}", NULL},
        {"$.a[0]", "{\"a\":{\"0\":1}}", NULL},
        {"$.a", "[1]", NULL},
        {"$[0]", "{}", NULL},
        {"$.a['x','y']", "{\"a\":5}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc, cases[i].want);
}

Test(jsonpath, wildcards_yield_arrays)
{
    static const eval_case cases[] = {
        {"$.a[*]", "{\"a\":[1,2,3]}", "[1,2,3]"},
        {"$.a.*", "{\"a\":[1,2,3]}", "[1,2,3]"},
        {"$.a[*]", "{\"a\":{\"x\":1,\"y\":2}}", "[1,2]"},
        {"$.*", "{\"x\":1,\"y\":[2]}", "[1,[2]]"},
        {"$.a[*]", "{\"a\":5}", "[]"},
        {"$.a[*]", "{\"a\":[]}", "[]"},
        {"$.missing[*]", "{}", "[]"},
        {"$.a[*].b", "{\"a\":[{\"b\":1},{\"c\":2},{\"b\":3}]}", "[1,3]"},
        {"$[*][0]", "[[1,2],[3],[],4]", "[1,3]"},
        {"$.a[*]['x','y']", "{\"a\":[{\"x\":1,\"y\":2,\"z\":3},{\"x\":4}]}",
         "[{\"x\":1,\"y\":2},{\"x\":4}]"},
        {"$['a','b'].c", "{\"a\":{\"c\":1},\"b\":{\"c\":2}}", "[1,2]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc, cases[i].want);
}

Test(jsonpath, slice_maps_over_fields)
{
    const char *items = "{\"items\":[{\"itemValue\":0},{\"itemValue\":1},{\"other\":2},"
                        "{\"itemValue\":3},{\"itemValue\":4},{\"itemValue\":5},{\"itemValue\":6}]}";
    check_eval("$.items[1:5].itemValue", items, "[1,3,4]");
    check_eval("$.items[5:].itemValue", items, "[5,6]");
    check_eval("$.items[:2].itemValue", items, "[0,1]");
    check_eval("$.items[-2:].itemValue", items, "[5,6]");
}

Test(jsonpath, slices_follow_jayway)
{
    static const eval_case cases[] = {
        {"$[1:3]", "[0,1,2,3,4]", "[1,2]"},
        {"$[1:]", "[0,1,2,3,4]", "[1,2,3,4]"},
        {"$[:2]", "[0,1,2,3,4]", "[0,1]"},
        {"$[-2:]", "[0,1,2,3,4]", "[3,4]"},
        {"$[:-2]", "[0,1,2,3,4]", "[0,1,2]"},
        {"$[-10:]", "[0,1,2]", "[0,1,2]"},
        {"$[:10]", "[0,1,2]", "[0,1,2]"},
        {"$[2:100]", "[0,1,2,3]", "[2,3]"},
        {"$[3:1]", "[0,1,2,3]", "[]"},
        {"$[5:]", "[0,1,2]", "[]"},
        {"$[1:2]", "[]", "[]"},
        {"$[1:2]", "{\"1\":1}", "[]"},
        {"$[0:2]", "\"ab\"", "[]"},
        /* Jayway walks a..b and resolves each negative index on its own. */
        {"$[-3:-1]", "[0,1,2,3,4]", "[2,3]"},
        {"$[-1:2]", "[0,1,2,3,4]", "[4,0,1]"},
        {"$[1:-1]", "[0,1,2,3,4]", "[]"},
        {"$[-2147483648:2147483647]", "[0,1]", "[0,1,0,1]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc, cases[i].want);
}

Test(jsonpath, unions_pick_in_order)
{
    static const eval_case cases[] = {
        {"$[0,2]", "[0,1,2,3]", "[0,2]"},
        {"$[2,0]", "[0,1,2,3]", "[2,0]"},
        {"$[0, -1, 9]", "[0,1,2,3]", "[0,3]"},
        {"$[0,0]", "[7]", "[7,7]"},
        {"$.a[0,1].b", "{\"a\":[{\"b\":1},{\"b\":2},{\"b\":3}]}", "[1,2]"},
        {"$[0,1]", "{}", "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc, cases[i].want);
}

Test(jsonpath, deep_scan_visits_parents_first)
{
    static const eval_case cases[] = {
        {"$..author", NULL, "[\"Nigel Rees\",\"Evelyn Waugh\",\"Herman Melville\","
                            "\"J. R. R. Tolkien\"]"},
        {"$.store..price", NULL, "[8.95,12.99,8.99,22.99,19.95]"},
        {"$..book[2].author", NULL, "[\"Herman Melville\"]"},
        {"$..book[-1:].price", NULL, "[22.99]"},
        {"$..book[0,1].price", NULL, "[8.95,12.99]"},
        {"$..book[:2].price", NULL, "[8.95,12.99]"},
        {"$..nothing", NULL, "[]"},
        {"$..a", "{\"a\":{\"a\":1},\"b\":[{\"a\":2}]}", "[{\"a\":1},1,2]"},
        {"$..*", "{\"a\":{\"b\":1},\"c\":[2]}", "[{\"b\":1},[2],1,2]"},
        {"$..[0]", "{\"a\":[1,[2,3]],\"b\":{\"c\":[4]}}", "[1,2,4]"},
        {"$..['a','b']", "{\"a\":1,\"b\":2,\"x\":{\"a\":3}}", "[{\"a\":1,\"b\":2}]"},
        /* Jayway's quirk: "..[n].x" reads x from every element of a
         * matching array, not just element n. */
        {"$..[0].x", "{\"l\":[{\"x\":1},{\"x\":2}]}", "[1,2]"},
        {"$..a", "5", "[]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc ? cases[i].doc : store, cases[i].want);
}

Test(jsonpath, filters_compare_fields)
{
    static const eval_case cases[] = {
        {"$.store.book[?(@.price < 10)].author", NULL, "[\"Nigel Rees\",\"Herman Melville\"]"},
        {"$.store.book[?(@.price<10)].author", NULL, "[\"Nigel Rees\",\"Herman Melville\"]"},
        {"$.store.book[?(@.isbn)].author", NULL, "[\"Herman Melville\",\"J. R. R. Tolkien\"]"},
        {"$.store.book[?(!@.isbn)].price", NULL, "[8.95,12.99]"},
        {"$.store.book[?(@.category == 'reference')].price", NULL, "[8.95]"},
        {"$.store.book[?(@.category == \"fiction\" && @.price > 20)].price", NULL, "[22.99]"},
        {"$.store.book[?(@.price < 9 || @.price > 20)].price", NULL, "[8.95,8.99,22.99]"},
        {"$.store.book[?(@.price >= 12.99)].price", NULL, "[12.99,22.99]"},
        {"$.store.book[?(@.price <= 8.99)].price", NULL, "[8.95,8.99]"},
        {"$.store.book[?(@.category != 'fiction')].price", NULL, "[8.95]"},
        {"$.store.book[?(@.price > $.expensive)].price", NULL, "[12.99,22.99]"},
        {"$.store.book[?((@.price < 9) && !(@.isbn))].author", NULL, "[\"Nigel Rees\"]"},
        {"$..book[?(@.author == 'Evelyn Waugh')].price", NULL, "[12.99]"},
        {"$.store.book[?(@.price < 10 && @.isbn)].author", NULL, "[\"Herman Melville\"]"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_eval(cases[i].path, cases[i].doc ? cases[i].doc : store, cases[i].want);
}

Test(jsonpath, filters_on_literals_and_types)
{
    const char *xs = "{\"xs\":[{\"status\":0},{\"status\":1},{\"status\":\"0\"},{\"status\":null},"
                     "{\"status\":true},{\"status\":false},{}]}";
    static const struct {
        const char *filter, *want;
    } cases[] = {
        {"@.status == 0", "[{\"status\":0},{\"status\":\"0\"}]"},
        {"@.status == 0.0", "[{\"status\":0},{\"status\":\"0\"}]"},
        {"@.status == '0'", "[{\"status\":0},{\"status\":\"0\"}]"},
        {"@.status == null", "[{\"status\":null}]"},
        {"@.status == true", "[{\"status\":true}]"},
        {"@.status == false", "[{\"status\":false}]"},
        {"@.status", "[{\"status\":0},{\"status\":1},{\"status\":\"0\"},{\"status\":null},"
                     "{\"status\":true},{\"status\":false}]"},
        {"@.status > 0", "[{\"status\":1}]"},
        {"@.status >= 0", "[{\"status\":0},{\"status\":1}]"},
        {"@.status < 'a'", "[{\"status\":\"0\"}]"},
        {"@.status != 0", "[{\"status\":1},{\"status\":null},{\"status\":true},"
                          "{\"status\":false},{}]"},
        {"0 == @.status", "[{\"status\":0},{\"status\":\"0\"}]"},
        {"@.status == -1", "[]"},
        {"@.status > 1e-3", "[{\"status\":1}]"},
    };
    json_t *d = parse(xs);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[200];
        snprintf(path, sizeof path, "$.xs[?(%s)]", cases[i].filter);
        check_eval(path, xs, cases[i].want);
    }
    json_decref(d);
    check_eval("$[?(@ > 1)]", "[0,1,2,3]", "[2,3]");
    check_eval("$[?(@ == 'b')]", "[\"a\",\"b\"]", "[\"b\"]");
    check_eval("$.o[?(@.k == 1)]", "{\"o\":{\"k\":1}}", "[{\"k\":1}]");
    check_eval("$.o[?(@.k == 2)]", "{\"o\":{\"k\":1}}", "[]");
    check_eval("$.o[?(@.k == 2)]", "{\"o\":3}", "[]");
    check_eval("$[?(@.a[0] == 1)].b", "[{\"a\":[1],\"b\":2},{\"a\":[2],\"b\":3}]", "[2]");
    check_eval("$[?(@.a[?(@ > 1)])].b", "[{\"a\":[1],\"b\":2},{\"a\":[2],\"b\":3}]", "[3]");
    check_eval("$[?(@['x y'] == 1)]", "[{\"x y\":1},{\"x y\":2}]", "[{\"x y\":1}]");
}

Test(jsonpath, definite_results_are_the_same_object)
{
    asl_path *p = compile_ok("$.a.b");
    json_t *d = parse("{\"a\":{\"b\":{\"c\":1}}}"), *got = NULL;
    cr_assert_eq(asl_path_eval(p, d, &got), SF_OK);
    cr_expect_eq(got, json_object_get(json_object_get(d, "a"), "b"));
    cr_expect_eq(got->refcount, 2);
    json_decref(got);
    asl_path_destroy(&p);

    p = compile_ok("$");
    cr_assert_eq(asl_path_eval(p, d, &got), SF_OK);
    cr_expect_eq(got, d);
    json_decref(got);
    asl_path_destroy(&p);
    cr_expect_null(p);
    asl_path_destroy(&p); /* NULL-safe */
    json_decref(d);
}

Test(jsonpath, roots_and_kinds)
{
    static const struct {
        const char *path;
        asl_path_root root;
        const char *var;
        bool is_root, definite, reference;
    } cases[] = {
        {"$", ASL_ROOT_INPUT, NULL, true, true, true},
        {"$$", ASL_ROOT_CONTEXT, NULL, true, true, true},
        {"$$.Execution.Id", ASL_ROOT_CONTEXT, NULL, false, true, true},
        {"$myVar", ASL_ROOT_VAR, "myVar", true, true, true},
        {"$my_var2.a[0]", ASL_ROOT_VAR, "my_var2", false, true, true},
        {"$_x", ASL_ROOT_VAR, "_x", true, true, true},
        {"$.a[-1]", ASL_ROOT_INPUT, NULL, false, true, false},
        {"$.a[*]", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$.*", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$..a", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$.a[1:2]", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$.a[0,1]", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$['a','b']", ASL_ROOT_INPUT, NULL, false, true, false},
        {"$['a','b'].c", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$.a[?(@.b)]", ASL_ROOT_INPUT, NULL, false, false, false},
        {"$['a'][0].b", ASL_ROOT_INPUT, NULL, false, true, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asl_path *p = compile_ok(cases[i].path);
        cr_expect_eq(asl_path_root_kind(p), cases[i].root, "%s", cases[i].path);
        if (cases[i].var)
            cr_expect_str_eq(asl_path_var(p), cases[i].var, "%s", cases[i].path);
        else
            cr_expect_null(asl_path_var(p), "%s", cases[i].path);
        cr_expect_str_eq(asl_path_text(p), cases[i].path);
        cr_expect_eq(asl_path_is_root(p), cases[i].is_root, "%s is_root", cases[i].path);
        cr_expect_eq(asl_path_is_definite(p), cases[i].definite, "%s definite", cases[i].path);
        cr_expect_eq(asl_path_is_reference(p), cases[i].reference, "%s reference",
                     cases[i].path);
        asl_path_destroy(&p);
    }
}

Test(jsonpath, normalized_form_quotes_names)
{
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"$.NoSuchInputPath", "$['NoSuchInputPath']"},
        {"$.a[0]", "$['a'][0]"},
        {"$.a.b[0]", "$['a']['b'][0]"},
        {"$", "$"},
        {"$$.Execution.Input", "$$['Execution']['Input']"},
        {"$v.x", "$v['x']"},
        {"$[\"a\"]", "$[\"a\"]"},
        {"$['it\\'s']", "$['it\\'s']"},
        {"$['a','b']", "$['a','b']"},
        {"$.a[*]", "$['a'][*]"},
        {"$.*", "$[*]"},
        {"$..a", "$..['a']"},
        {"$..*", "$..[*]"},
        {"$[1:3]", "$[1:3]"},
        {"$[-2:]", "$[-2:]"},
        {"$[:2]", "$[:2]"},
        {"$[0, 2]", "$[0,2]"},
        {"$[-1]", "$[-1]"},
        {"$.a[?(@.b == 1)].c", "$['a'][?]['c']"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asl_path *p = compile_ok(cases[i].path);
        char buf[128];
        asl_path_normalized(p, buf, sizeof buf);
        cr_expect_str_eq(buf, cases[i].want, "%s", cases[i].path);
        asl_path_destroy(&p);
    }
}

Test(jsonpath, normalized_form_truncates)
{
    asl_path *p = compile_ok("$.abcdefgh");
    char buf[6] = "xxxxx";
    asl_path_normalized(p, buf, sizeof buf);
    cr_expect_str_eq(buf, "$['ab");
    char one[1] = {'x'};
    asl_path_normalized(p, one, 1);
    cr_expect_eq(one[0], '\0');
    asl_path_normalized(p, NULL, 0); /* writes nothing */
    asl_path_destroy(&p);
}

Test(jsonpath, rejects_malformed_paths_with_byte_offsets)
{
    static const struct {
        const char *path, *want; /* want: a substring of the message */
    } cases[] = {
        {"", "at byte 0"},
        {"a.b", "must start with '$'"},
        {"$.", "must not end with '.' at byte 1"},
        {"$..", "must not end with '..' at byte 1"},
        {"$.a.", "at byte 3"},
        {"$...a", "unexpected '.' at byte 3"},
        {"$a b", "at byte 2"},
        {"$.a b", "blank in a name (use ['a b']) at byte 3"},
        {"$[0", "at byte 3"},
        {"$.a[0]]", "unexpected ']' at byte 6"},
        {"$['a", "unterminated string at byte 2"},
        {"$['a'", "unexpected end of path at byte 5"},
        {"$.]", "unexpected ']' at byte 2"},
        {"$['a' 'b']", "unexpected ''' at byte 6"},
        {"$[]", "unexpected ']' at byte 2"},
        {"$[x]", "unexpected 'x' at byte 2"},
        {"$[1:2:3]", "slice steps are not supported at byte 5"},
        {"$[:]", "slice needs a start or an end at byte 1"},
        {"$[-]", "unexpected ']' at byte 3"},
        {"$[99999999999]", "index out of range at byte 2"},
        {"$[*", "unexpected end of path at byte 3"},
        {"$[?(@.a == 1]", "at byte 12"},
        {"$[?(@.a ==)]", "unexpected ')' at byte 10"},
        {"$[?(@.a =~ /x/)]", "unsupported filter operator at byte 8"},
        {"$[?(@.a in ['x'])]", "unsupported filter operator at byte 8"},
        {"$[?(1)]", "needs a path or a comparison at byte 4"},
        {"$[?(@.a == 'x)]", "unterminated string at byte 11"},
        {"$.length()", "path functions are not supported at byte 8"},
        {"$1", "must not start with a digit at byte 1"},
        {"$$x", "expected '.' or '[' after the root"},
        {"$.a[?(@.x)", "at byte 10"},
        {"$['\\u12']", "bad \\u escape at byte 3"},
        {"$[?($$.x)]", "only '@' and '$' paths"},
        {"$.a\xff", "invalid UTF-8 at byte 3"},
        {"$['\xc3\x28']", "invalid UTF-8 at byte 3"},
        {"$['\\ud800']", "lone surrogate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asl_path *p = (asl_path *)1;
        char err[200] = "";
        sf_rc rc = asl_path_compile(cases[i].path, &p, err, sizeof err);
        cr_expect_eq(rc, SF_EINVAL, "%s: want EINVAL, got %s", cases[i].path, sf_rc_str(rc));
        cr_expect_null(p, "%s", cases[i].path);
        cr_expect(strstr(err, cases[i].want), "%s: message '%s' lacks '%s'", cases[i].path, err,
                  cases[i].want);
    }
}

Test(jsonpath, compile_errors_respect_errlen)
{
    asl_path *p = NULL;
    char err[8];
    memset(err, 'x', sizeof err);
    cr_expect_eq(asl_path_compile("$[", &p, err, sizeof err), SF_EINVAL);
    cr_expect_eq(err[7], '\0');
    cr_expect_eq(asl_path_compile("$[", &p, NULL, 0), SF_EINVAL);
}

Test(jsonpath, long_paths_hit_a_limit)
{
    size_t n = 70000;
    char *text = malloc(n + 1);
    cr_assert(text);
    text[0] = '$';
    for (size_t i = 1; i < n; i++)
        text[i] = i % 2 ? '.' : 'a';
    text[n] = '\0';
    asl_path *p = NULL;
    char err[100];
    cr_expect_eq(asl_path_compile(text, &p, err, sizeof err), SF_ELIMIT);
    /* 5000 steps: within the text limit, past the step limit. */
    text[10001] = '\0';
    cr_expect_eq(asl_path_compile(text, &p, err, sizeof err), SF_ELIMIT);
    /* 4000 steps is fine. */
    text[8001] = '\0';
    cr_expect_eq(asl_path_compile(text, &p, err, sizeof err), SF_OK, "%s", err);
    asl_path_destroy(&p);
    free(text);
}

Test(jsonpath, eval_scope_picks_the_root)
{
    json_t *input = parse("{\"a\":1}");
    json_t *ctx = parse("{\"Execution\":{\"Id\":\"e1\"}}");
    json_t *vars = parse("{\"v\":{\"x\":[10,20]}}");
    asl_scope s = {.input = input, .context = ctx, .vars = vars};
    static const struct {
        const char *path, *want;
    } cases[] = {
        {"$.a", "1"},
        {"$$.Execution.Id", "\"e1\""},
        {"$v.x[1]", "20"},
        {"$v", "{\"x\":[10,20]}"},
        {"$v.x[*]", "[10,20]"},
        {"$nope", NULL},
        {"$v.y", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        asl_path *p = compile_ok(cases[i].path);
        json_t *got = NULL;
        sf_rc rc = asl_path_eval_scope(p, &s, &got);
        if (cases[i].want) {
            json_t *w = parse(cases[i].want);
            cr_expect_eq(rc, SF_OK, "%s", cases[i].path);
            cr_expect(got && json_equal(got, w), "%s", cases[i].path);
            json_decref(w);
        } else {
            cr_expect_eq(rc, SF_ENOTFOUND, "%s", cases[i].path);
        }
        json_decref(got);
        asl_path_destroy(&p);
    }
    /* A NULL context reads as {}; NULL vars hold nothing. */
    asl_scope bare = {.input = input};
    asl_path *p = compile_ok("$$");
    json_t *got = NULL;
    cr_expect_eq(asl_path_eval_scope(p, &bare, &got), SF_OK);
    cr_expect(json_is_object(got) && json_object_size(got) == 0);
    json_decref(got);
    asl_path_destroy(&p);
    p = compile_ok("$$.Execution");
    cr_expect_eq(asl_path_eval_scope(p, &bare, &got), SF_ENOTFOUND);
    asl_path_destroy(&p);
    p = compile_ok("$v");
    cr_expect_eq(asl_path_eval_scope(p, &bare, &got), SF_ENOTFOUND);
    asl_path_destroy(&p);
    json_decref(input);
    json_decref(ctx);
    json_decref(vars);
}

typedef struct {
    const char *path, *doc, *value, *want; /* want NULL: SF_EINVAL */
    const char *err;                       /* substring of the message when want is NULL */
} set_case;

Test(jsonpath, result_path_creates_objects)
{
    static const set_case cases[] = {
        {"$", "{\"a\":1}", "{\"r\":2}", "{\"r\":2}", NULL},
        {"$.r", "{\"a\":1}", "2", "{\"a\":1,\"r\":2}", NULL},
        {"$.a", "{\"a\":1}", "2", "{\"a\":2}", NULL},
        {"$.x.y.z", "{\"a\":1}", "true", "{\"a\":1,\"x\":{\"y\":{\"z\":true}}}", NULL},
        {"$.x.y", "{\"x\":{\"k\":0}}", "1", "{\"x\":{\"k\":0,\"y\":1}}", NULL},
        {"$['a b']", "{}", "1", "{\"a b\":1}", NULL},
        {"$.l[1]", "{\"l\":[0,0,0]}", "9", "{\"l\":[0,9,0]}", NULL},
        {"$.l[0].k", "{\"l\":[{\"j\":1}]}", "9", "{\"l\":[{\"j\":1,\"k\":9}]}", NULL},
        {"$[0]", "[1,2]", "3", "[3,2]", NULL},
        {"$.a.b", "{\"a\":\"s\"}", "1", NULL, "cannot set ['b'] in $['a']: it is a string"},
        {"$.a", "[1]", "1", NULL, "cannot set ['a'] in $: it is an array, not an object"},
        {"$.a", "5", "1", NULL, "it is a number"},
        {"$.a", "null", "1", NULL, "it is null"},
        {"$.l[3]", "{\"l\":[0]}", "1", NULL, "cannot set [3] in $['l']: the index is past the end"},
        {"$.l[0]", "{\"l\":{}}", "1", NULL, "not an array"},
        {"$.m[0]", "{}", "1", NULL, "not an array"},
        {"$.a[*]", "{}", "1", NULL, "not a reference path"},
        {"$.a[-1]", "{\"a\":[1]}", "1", NULL, "not a reference path"},
        {"$..a", "{}", "1", NULL, "not a reference path"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const set_case *c = &cases[i];
        asl_path *p = compile_ok(c->path);
        json_t *doc = parse(c->doc), *val = parse(c->value), *got = NULL;
        char *before = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        char err[200] = "";
        sf_rc rc = asl_path_set(p, doc, val, &got, err, sizeof err);
        if (c->want) {
            json_t *w = parse(c->want);
            char *gs = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
            cr_expect_eq(rc, SF_OK, "%s: %s", c->path, err);
            cr_expect(got && json_equal(got, w), "%s: want %s, got %s", c->path, c->want,
                      gs ? gs : "(null)");
            free(gs);
            json_decref(w);
        } else {
            cr_expect_eq(rc, SF_EINVAL, "%s on %s: want EINVAL, got %s", c->path, c->doc,
                         sf_rc_str(rc));
            cr_expect_null(got);
            cr_expect(strstr(err, c->err), "%s: message '%s' lacks '%s'", c->path, err, c->err);
        }
        /* The document is never modified. */
        char *after = json_dumps(doc, JSON_ENCODE_ANY | JSON_SORT_KEYS);
        cr_expect_str_eq(after, before, "%s modified its document", c->path);
        free(before);
        free(after);
        json_decref(got);
        json_decref(doc);
        json_decref(val);
        asl_path_destroy(&p);
    }
}

Test(jsonpath, result_path_copies_only_along_the_path)
{
    json_t *doc = parse("{\"a\":{\"b\":{\"c\":1},\"side\":{\"big\":[1,2,3]}},\"other\":[4]}");
    json_t *val = parse("\"v\""), *got = NULL;
    asl_path *p = compile_ok("$.a.b.c");
    cr_assert_eq(asl_path_set(p, doc, val, &got, NULL, 0), SF_OK);
    cr_expect_neq(got, doc);
    cr_expect_neq(json_object_get(got, "a"), json_object_get(doc, "a"));
    /* Off the path, values are shared, not copied. */
    cr_expect_eq(json_object_get(got, "other"), json_object_get(doc, "other"));
    cr_expect_eq(json_object_get(json_object_get(got, "a"), "side"),
                 json_object_get(json_object_get(doc, "a"), "side"));
    cr_expect_eq(json_object_get(json_object_get(json_object_get(got, "a"), "b"), "c"), val);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(json_object_get(doc, "a"),
                                                                    "b"),
                                                    "c")),
                 1);
    json_decref(got);
    /* Putting the document inside itself is a copy, not a cycle. */
    cr_assert_eq(asl_path_set(p, doc, doc, &got, NULL, 0), SF_OK);
    cr_expect_eq(json_object_get(json_object_get(json_object_get(got, "a"), "b"), "c"), doc);
    json_decref(got);
    asl_path_destroy(&p);
    json_decref(doc);
    json_decref(val);
}

Test(jsonpath, set_keeps_key_order)
{
    json_t *doc = parse("{\"z\":1,\"a\":2,\"m\":3}"), *val = parse("9"), *got = NULL;
    asl_path *p = compile_ok("$.a");
    cr_assert_eq(asl_path_set(p, doc, val, &got, NULL, 0), SF_OK);
    char *s = json_dumps(got, JSON_COMPACT);
    cr_expect_str_eq(s, "{\"z\":1,\"a\":9,\"m\":3}");
    free(s);
    json_decref(got);
    asl_path_destroy(&p);
    json_decref(doc);
    json_decref(val);
}

Test(jsonpath, runaway_scans_hit_a_limit)
{
    /* Objects nested 400 deep and four nested scans: about 400^4 / 24
     * visits without a cap. */
    json_t *doc = json_object();
    for (int i = 0; i < 400; i++) {
        json_t *outer = json_object();
        json_object_set_new(outer, "a", doc);
        doc = outer;
    }
    asl_path *p = compile_ok("$..*..*..*..*..zz");
    json_t *got = NULL;
    cr_expect_eq(asl_path_eval(p, doc, &got), SF_ELIMIT);
    cr_expect_null(got);
    asl_path_destroy(&p);
    /* Deep scans on a document that deep are fine on their own. */
    p = compile_ok("$..a");
    cr_expect_eq(asl_path_eval(p, doc, &got), SF_OK);
    cr_expect_eq(json_array_size(got), 400);
    json_decref(got);
    asl_path_destroy(&p);
    json_decref(doc);
}

Test(jsonpath, compiled_paths_are_reusable)
{
    asl_path *p = compile_ok("$.xs[?(@.n > 1)].n");
    for (int k = 0; k < 3; k++) {
        json_t *d = json_pack("{s:[{s:i},{s:i},{s:i}]}", "xs", "n", k, "n", k + 1, "n", k + 2);
        json_t *got = NULL;
        cr_assert_eq(asl_path_eval(p, d, &got), SF_OK);
        size_t want = (size_t)(k == 0 ? 1 : 3 - (k == 1 ? 1 : 0));
        cr_expect_eq(json_array_size(got), want, "round %d", k);
        json_decref(got);
        json_decref(d);
    }
    asl_path_destroy(&p);
}

Test(jsonpath, deep_filter_nesting_is_refused)
{
    char text[512];
    asl_path *p = NULL;
    char err[100] = "";
    /* 40 parentheses are fine, 200 are refused before they can exhaust the stack. */
    for (int depth = 40; depth <= 200; depth += 160) {
        size_t n = 0;
        n += (size_t)snprintf(text + n, sizeof text - n, "$[?(");
        for (int i = 0; i < depth; i++)
            text[n++] = i % 2 ? '(' : '!';
        n += (size_t)snprintf(text + n, sizeof text - n, "@.a");
        for (int i = 0; i < depth; i++)
            if (i % 2)
                text[n++] = ')';
        snprintf(text + n, sizeof text - n, ")]");
        sf_rc rc = asl_path_compile(text, &p, err, sizeof err);
        if (depth == 40) {
            cr_expect_eq(rc, SF_OK, "%s", err);
            check_eval(text, "[{\"a\":1},{}]", "[{\"a\":1}]");
        } else {
            cr_expect_eq(rc, SF_EINVAL);
            cr_expect(strstr(err, "nested too deeply"), "%s", err);
        }
        asl_path_destroy(&p);
    }
}
