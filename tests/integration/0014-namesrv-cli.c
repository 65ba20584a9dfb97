/*
 * `petrel namesrv` command line: --help, --help-config, -p with a properties
 * file (-c) and --key=value overrides applied after it, and the exit code 2
 * for bad options and values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/util.h"
#include "../testutil.h"

static char *dir;

/* Runs petrel with args; returns the exit code and the output in *out (caller frees). */
static int run(char **out, const char *a1, const char *a2, const char *a3, const char *a4) {
    static int n;
    char log[600];
    snprintf(log, sizeof(log), "%s/out%d.txt", dir, n++);
    char *argv[] = {NULL, "namesrv", (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL};
    pid_t pid = tu_spawn(argv, log);
    int st = tu_stop(pid, 0, 10000);
    assert_true(st >= 0 && WIFEXITED(st));
    if (file_read_all(log, out, NULL) != 0) *out = strdup("");
    return WEXITSTATUS(st);
}

static void test_help(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run(&out, "--help", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "usage: petrel namesrv"));
    free(out);
    assert_int_equal(run(&out, "--help-config", NULL, NULL, NULL), 0);
    assert_non_null(strstr(out, "brokerChannelExpiredTime"));
    assert_non_null(strstr(out, "kvConfigPath"));
    free(out);
}

static void test_file_then_overrides(void **state) {
    (void)state;
    char conf[600], copt[700];
    snprintf(conf, sizeof(conf), "%s/namesrv.properties", dir);
    const char *text = "# a comment\nlistenPort=9999\norderMessageEnable = true\n"
                       "rocketmqHome=/opt/rmq\nunknownKey=1\n";
    assert_int_equal(file_write_atomic(conf, text, strlen(text)), 0);
    char *out;
    assert_int_equal(run(&out, "-c", conf, "--listenPort=1234", "-p"), 0);
    assert_non_null(strstr(out, "listenPort=1234\n"));
    assert_non_null(strstr(out, "orderMessageEnable=true\n"));
    assert_non_null(strstr(out, "kvConfigPath=/opt/rmq/namesrv/kvConfig.json\n"));
    assert_non_null(strstr(out, "unknownKey")); /* warned about */
    free(out);
    snprintf(copt, sizeof(copt), "-c=%s", conf);
    assert_int_equal(run(&out, copt, "-p", NULL, NULL), 0);
    assert_non_null(strstr(out, "listenPort=9999\n"));
    free(out);
}

static void test_bad_options(void **state) {
    (void)state;
    char *out;
    assert_int_equal(run(&out, "--noSuchKey=1", NULL, NULL, NULL), 2);
    free(out);
    assert_int_equal(run(&out, "--listenPort=abc", NULL, NULL, NULL), 2);
    assert_non_null(strstr(out, "listenPort"));
    free(out);
    assert_int_equal(run(&out, "--listenPort=70000", NULL, NULL, NULL), 2);
    free(out);
    assert_int_equal(run(&out, "-c", "/nonexistent/namesrv.properties", NULL, NULL), 2);
    free(out);
    assert_int_equal(run(&out, "stray", NULL, NULL, NULL), 2);
    free(out);
    assert_int_equal(run(&out, "--logLevel=loud", NULL, NULL, NULL), 2);
    free(out);
}

int main(void) {
    dir = tu_tmpdir("petrel-it-nscli");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_file_then_overrides),
        cmocka_unit_test(test_bad_options),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (rc == 0) tu_rmrf(dir);
    free(dir);
    return rc;
}
