/*
 * Transactional messages over real TCP: half messages invisible until
 * END_TRANSACTION commits them (COMMIT sysFlag, TRAN_MSG kept, REAL_* gone),
 * rollback, wrong producer group, and the check-back: an unresolved half
 * message gets CHECK_TRANSACTION_STATE (body = the record with its real
 * topic) on a producer connection of its group, whose END_TRANSACTION
 * answer commits it; state survives kill -9.
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

#include "../broker_client.h"
#include "../testutil.h"
#include "common/msgprops.h"
#include "common/record.h"

static pid_t start(const char *dir, int port) {
    const char *extra[] = {"--transactionTimeOut=300", "--transactionCheckInterval=500",
                           "--transactionCheckMax=3", NULL};
    return bc_spawn_broker(dir, port, extra, NULL);
}

/* Sends a half message; returns its queue offset, *phys its commit log offset. */
static int64_t send_half(bc_t *c, const char *body, int64_t *phys) {
    const char *ext[] = {"a", "PG_TX", "b", "TopicTx", "c", "TBW102", "d", "4", "e", "0",
                         "f", "4", "g", "1", "h", "0",
                         "i", "TRAN_MSG\001true\002PGROUP\001PG_TX\002TAGS\001T\002", NULL};
    rm_cmd_t r;
    assert_int_equal(bc_call(c, SEND_MESSAGE_V2, ext, body, strlen(body), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    const char *id = rm_ext_get(&r, "msgId");
    uint8_t host[20];
    uint32_t hl;
    assert_int_equal(record_msgid_decode(id, strlen(id), host, &hl, phys), 0);
    return bc_ext_i64(&r, "queueOffset");
}

static int end_tx(bc_t *c, const char *group, int64_t tso, int64_t clo, int what, int check) {
    char a[32], b[32], w[16];
    snprintf(a, sizeof(a), "%lld", (long long)tso);
    snprintf(b, sizeof(b), "%lld", (long long)clo);
    snprintf(w, sizeof(w), "%d", what);
    const char *ext[] = {"producerGroup", group, "tranStateTableOffset", a, "commitLogOffset", b,
                         "commitOrRollback", w, "fromTransactionCheck", check ? "true" : "false",
                         "msgId", "X", "transactionId", "X", NULL};
    rm_cmd_t r;
    assert_int_equal(bc_call(c, END_TRANSACTION, ext, NULL, 0, &r, 5000), 0);
    return r.code;
}

static int visible(bc_t *c) {
    rm_cmd_t r;
    if (bc_pull(c, "G_TX", "TopicTx", 0, 0, 32, 4, "*", 0, &r, 5000) != 0) return -1;
    return r.code == SUCCESS ? bc_count_records(&r) : 0;
}

static int checked(const bc_t *p, int64_t tso) {
    return p->seen[CHECK_TRANSACTION_STATE] >= 1 && strtoll(p->last_tso, NULL, 10) == tso;
}

static void test_txn(void **state) {
    (void)state;
    char *dir = tu_tmpdir("petrel-it-btx");
    int port = tu_free_port();
    pid_t pid = start(dir, port);
    assert_true(pid > 0);
    bc_t p, c;
    assert_int_equal(bc_connect(&p, port), 0);
    assert_int_equal(bc_connect(&c, port), 0);
    rm_cmd_t r;
    const char *hb = "{\"clientID\":\"P1\",\"consumerDataSet\":[],\"producerDataSet\":[{\"groupName\":\"PG_TX\"}]}";
    assert_int_equal(bc_call(&p, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_int_equal(r.code, SUCCESS);
    int64_t phys1, phys2;
    int64_t q1 = send_half(&p, "tx-commit", &phys1);
    int64_t q2 = send_half(&p, "tx-rollback", &phys2);
    assert_int_equal(q2, q1 + 1);
    assert_int_equal(visible(&c), 0);
    assert_int_equal(end_tx(&c, "PG_OTHER", q1, phys1, 8, 0), SYSTEM_ERROR);
    assert_int_equal(end_tx(&c, "PG_TX", q1 + 5, phys1, 8, 0), SYSTEM_ERROR);
    assert_int_equal(end_tx(&c, "PG_TX", q1, 1099511627776LL, 8, 0), SYSTEM_ERROR);
    /* commit from another connection of the same group */
    assert_int_equal(end_tx(&c, "PG_TX", q1, phys1, 8, 0), SUCCESS);
    assert_int_equal(end_tx(&c, "PG_TX", q2, phys2, 12, 0), SUCCESS);
    assert_int_equal(visible(&c), 1);
    assert_int_equal(bc_pull(&c, "G_TX", "TopicTx", 0, 0, 32, 4, "*", 0, &r, 5000), 0);
    record_view_t v;
    assert_int_equal(record_decode(r.body, r.body_len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_int_equal(v.sys_flag & 0xC, 8);
    assert_int_equal(v.prepared_tx_offset, phys1);
    assert_memory_equal(v.body, "tx-commit", 9);
    const char *val;
    size_t vl;
    assert_true(msgprops_find(v.props, v.props_len, "TRAN_MSG", &val, &vl));
    assert_false(msgprops_find(v.props, v.props_len, "REAL_TOPIC", &val, &vl));
    /* a repeated commit does not duplicate */
    assert_int_equal(end_tx(&c, "PG_TX", q1, phys1, 8, 0), SUCCESS);
    assert_int_equal(visible(&c), 1);
    /* unresolved: the broker asks the producer */
    int64_t phys3;
    int64_t q3 = send_half(&p, "tx-check", &phys3);
    /* A slow run can get checks for q1/q2 too (sent before they were resolved): wait for q3's. */
    assert_true(TU_WAIT_FOR((bc_drain(&p, 50), checked(&p, q3)), 10000));
    assert_int_equal(strtoll(p.last_tso, NULL, 10), q3);
    assert_int_equal(strtoll(p.last_clo, NULL, 10), phys3);
    assert_string_equal(p.last_topic, "TopicTx");
    assert_int_equal(record_decode(p.last_body, p.last_body_len, &v, 0), RECORD_OK);
    assert_int_equal(v.topic_len, 7);
    assert_memory_equal(v.topic, "TopicTx", 7);
    assert_int_equal(end_tx(&p, "PG_TX", q3, phys3, 8, 1), SUCCESS);
    assert_int_equal(visible(&c), 2);
    /* kill -9 and restart: resolved halves are not checked again, an open one still is */
    int64_t phys4;
    int64_t q4 = send_half(&p, "tx-open", &phys4);
    bc_close(&p);
    bc_close(&c);
    bc_stop(pid, 9, 20000); /* kill -9: the op records must be recovered */
    pid = start(dir, port);
    assert_true(pid > 0);
    assert_int_equal(bc_connect(&p, port), 0);
    assert_int_equal(bc_call(&p, HEART_BEAT, NULL, hb, strlen(hb), &r, 5000), 0);
    assert_true(TU_WAIT_FOR((bc_drain(&p, 50), checked(&p, q4)), 10000));
    assert_int_equal(strtoll(p.last_tso, NULL, 10), q4);
    assert_int_equal(end_tx(&p, "PG_TX", q4, phys4, 12, 1), SUCCESS);
    assert_int_equal(bc_connect(&c, port), 0);
    assert_int_equal(visible(&c), 2);
    bc_close(&p);
    bc_close(&c);
    assert_int_equal(bc_solo_stop(pid, dir), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_txn)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
