/* tests/worker/test_aws_credentials.c - the credential chain: environment
 * first, then the shared credentials file's profile, with errors that say
 * where they looked. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "worker/aws_credentials.h"

static char dir[] = "/tmp/sf-awscred-XXXXXX";

static void setup(void)
{
    cr_assert(mkdtemp(dir));
    char aws[256];
    snprintf(aws, sizeof aws, "%s/.aws", dir);
    cr_assert_eq(mkdir(aws, 0700), 0);
}

static void teardown(void)
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

static void write_credentials(const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/.aws/credentials", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}

TestSuite(aws_credentials, .init = setup, .fini = teardown);

Test(aws_credentials, environment_comes_first)
{
    write_credentials(
        "[default]\naws_access_key_id = FILEKEY\naws_secret_access_key = FILESECRET\n");
    char *env[] = {"AWS_ACCESS_KEY_ID=ENVKEY", "AWS_SECRET_ACCESS_KEY=ENVSECRET",
                   "AWS_SESSION_TOKEN=TOKEN", NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(env, dir, &c, err, sizeof err), SF_OK, "%s", err);
    cr_assert_str_eq(c.access_key_id, "ENVKEY");
    cr_assert_str_eq(c.secret_access_key, "ENVSECRET");
    cr_assert_str_eq(c.session_token, "TOKEN");
    cr_assert_str_eq(c.source, "environment");
}

Test(aws_credentials, default_and_named_profiles)
{
    write_credentials("# comment\n[default]\naws_access_key_id=DEF\naws_secret_access_key = "
                      "DEFSECRET  \n\n; another\n[profile burst]\r\n"
                      "aws_access_key_id = BURST\r\naws_secret_access_key = BSECRET\r\n"
                      "aws_session_token = BTOKEN\r\nregion = eu-west-1\r\n");
    char *none[] = {NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(none, dir, &c, err, sizeof err), SF_OK, "%s", err);
    cr_assert_str_eq(c.access_key_id, "DEF");
    cr_assert_str_eq(c.secret_access_key, "DEFSECRET");
    cr_assert_str_eq(c.session_token, "");
    cr_assert(strstr(c.source, "[default]"));
    char *named[] = {"AWS_PROFILE=burst", NULL};
    cr_assert_eq(aws_credentials_load(named, dir, &c, err, sizeof err), SF_OK, "%s", err);
    cr_assert_str_eq(c.access_key_id, "BURST");
    cr_assert_str_eq(c.session_token, "BTOKEN");
}

Test(aws_credentials, a_named_profile_that_is_missing_is_an_error)
{
    write_credentials("[default]\naws_access_key_id=A\naws_secret_access_key=B\n");
    char *env[] = {"AWS_PROFILE=nope", NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(env, dir, &c, err, sizeof err), SF_ENOTFOUND);
    cr_assert(strstr(err, "[nope]"), "%s", err);
}

Test(aws_credentials, nothing_anywhere_says_where_it_looked)
{
    char *none[] = {NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(none, dir, &c, err, sizeof err), SF_ENOTFOUND);
    cr_assert(strstr(err, "AWS_ACCESS_KEY_ID"), "%s", err);
    cr_assert(strstr(err, ".aws/credentials"), "%s", err);
}

Test(aws_credentials, half_a_pair_is_refused)
{
    char *env[] = {"AWS_ACCESS_KEY_ID=ONLY", NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(env, dir, &c, err, sizeof err), SF_EINVAL);
    write_credentials("[default]\naws_access_key_id = A\n");
    char *none[] = {NULL};
    cr_assert_eq(aws_credentials_load(none, dir, &c, err, sizeof err), SF_EINVAL);
    cr_assert(strstr(err, "aws_secret_access_key"), "%s", err);
}

Test(aws_credentials, malformed_file_names_the_line)
{
    write_credentials("[default]\naws_access_key_id A\n");
    char *none[] = {NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(none, dir, &c, err, sizeof err), SF_EINVAL);
    cr_assert(strstr(err, "line 2"), "%s", err);
    write_credentials("[default\n");
    cr_assert_eq(aws_credentials_load(none, dir, &c, err, sizeof err), SF_EINVAL);
    cr_assert(strstr(err, "line 1"), "%s", err);
}

Test(aws_credentials, shared_file_variable_overrides_home)
{
    char path[256];
    snprintf(path, sizeof path, "%s/elsewhere", dir);
    FILE *f = fopen(path, "w");
    cr_assert(f);
    fputs("[default]\naws_access_key_id=X\naws_secret_access_key=Y\n", f);
    fclose(f);
    char var[300];
    snprintf(var, sizeof var, "AWS_SHARED_CREDENTIALS_FILE=%s", path);
    char *env[] = {var, NULL};
    aws_credentials c;
    char err[512];
    cr_assert_eq(aws_credentials_load(env, "/nonexistent", &c, err, sizeof err), SF_OK, "%s", err);
    cr_assert_str_eq(c.access_key_id, "X");
}
