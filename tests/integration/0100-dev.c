/*
 * `petrel dev`: a NameServer and a broker from one command, data under the
 * given directory; both ports answer; SIGTERM stops both and exits 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "common/util.h"
#include "../testutil.h"

static int file_contains(const char *path, const char *needle) {
    char *text = NULL;
    if (file_read_all(path, &text, NULL) != 0) return 0;
    int found = strstr(text, needle) != NULL;
    free(text);
    return found;
}

static void test_dev_starts_and_stops(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-dev");
    int ns_port = tu_free_port(), br_port = tu_free_port();
    char data[600], log[600], a_data[700], a_ns[64], a_br[64];
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(log, sizeof(log), "%s/dev.log", dir);
    snprintf(a_data, sizeof(a_data), "--data=%s", data);
    snprintf(a_ns, sizeof(a_ns), "--namesrvPort=%d", ns_port);
    snprintf(a_br, sizeof(a_br), "--listenPort=%d", br_port);
    char *argv[] = {NULL, "dev", a_data, a_ns, a_br, "--mappedFileSizeCommitLog=1048576", NULL};
    pid_t pid = tu_spawn(argv, log);

    assert_true(TU_WAIT_FOR(file_contains(log, "stop with Ctrl-C"), 20000));
    char expect[128];
    snprintf(expect, sizeof(expect), "NameServer 127.0.0.1:%d, broker broker-a 127.0.0.1:%d",
             ns_port, br_port);
    assert_true(file_contains(log, expect));
    assert_int_equal(tu_wait_port(ns_port, 1000), 0);
    assert_int_equal(tu_wait_port(br_port, 1000), 0);
    /* the broker registered: the NameServer logs it */
    assert_true(TU_WAIT_FOR(file_contains(log, "registered by broker-a"), 5000));
    struct stat st;
    char commitlog[700];
    snprintf(commitlog, sizeof(commitlog), "%s/store/commitlog", data);
    assert_int_equal(stat(commitlog, &st), 0);

    int status = tu_stop(pid, SIGTERM, 30000);
    assert_true(status >= 0);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    /* a clean stop leaves no abort file behind */
    char abort_file[700];
    snprintf(abort_file, sizeof(abort_file), "%s/store/abort", data);
    assert_int_not_equal(stat(abort_file, &st), 0);
    tu_rmrf(dir);
    free(dir);
}

static void test_dev_help(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-devh");
    char log[600];
    snprintf(log, sizeof(log), "%s/help.log", dir);
    char *argv[] = {NULL, "dev", "--help", NULL};
    int status = tu_stop(tu_spawn(argv, log), 0, 10000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_true(file_contains(log, "usage: petrel dev"));
    char *bad[] = {NULL, "dev", "stray", NULL};
    status = tu_stop(tu_spawn(bad, log), 0, 10000);
    assert_int_equal(WEXITSTATUS(status), 2);
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dev_starts_and_stops),
        cmocka_unit_test(test_dev_help),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
