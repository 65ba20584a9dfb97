/*
 * libpetrel against real `petrel namesrv` + `petrel broker` processes on free
 * ports: sync/async/oneway/batch sends consumed by a push consumer with tags,
 * keys, properties and compressed binary bodies intact; clustering rebalance
 * as a third consumer joins and one leaves (no queue owned twice once
 * settled, every message consumed); broadcasting offsets surviving a client
 * restart; orderly consumption order per queue; the pull consumer; and
 * transactions (commit, rollback, check-back).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "../client_fixture.h"
#include "../testutil.h"
#include "petrel/petrel.h"
#include "remoting/remoting.h"

static tu_pair_t P; /* NameServer + broker-a */

static void create_topic(const char *topic, int queues) {
    assert_int_equal(tu_create_topic(&P, topic, queues), 0);
}

static int setup(void **state) {
    (void)state;
    static const char *const br_extra[] = {"--mappedFileSizeCommitLog=4194304",
                                           "--transactionCheckInterval=500",
                                           "--transactionTimeOut=200", NULL};
    if (tu_pair_start(&P, "petrel-it-client", NULL, br_extra) != 0) return -1;
    if (getenv("PETREL_TEST_LOG")) petrel_set_log_cb(petrel_log_stderr, PETREL_LOG_INFO, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_pair_stop(&P, 0);
}

static petrel_conf_t *conf_for(const char *group) { return tc_conf(P.ns_addr, group, "300"); }

static petrel_producer_t *producer(const char *group) { return tc_producer(conf_for(group)); }

static petrel_consume_status_t on_msg(petrel_push_consumer_t *c, const petrel_msg_t *m,
                                      void *opaque) {
    tc_seen_t *s = opaque;
    const char *k = petrel_msg_keys(m);
    size_t len;
    const uint8_t *body = petrel_msg_body(m, &len);
    pthread_mutex_lock(&s->mu);
    size_t kl = k ? strlen(k) : 0;
    if (!k || len < kl || memcmp(body, k, kl) != 0) s->bad++;
    for (size_t i = kl; i < len; i++)
        if (body[i] != (uint8_t)(i * 7)) {
            s->bad++;
            break;
        }
    if (!petrel_msg_id(m) || strlen(petrel_msg_id(m)) != 32 || !petrel_msg_offset_id(m) ||
        petrel_msg_store_timestamp(m) <= 0)
        s->bad++;
    if (k && strncmp(k, "prop", 4) == 0) {
        const char *v = petrel_msg_property(m, "color");
        if (!v || strcmp(v, "red") != 0 || !petrel_msg_tags(m)) s->bad++;
    }
    if (s->n < TC_SEEN_MAX) snprintf(s->keys[s->n++], 32, "%s", k ? k : "");
    pthread_mutex_unlock(&s->mu);
    return PETREL_CONSUME_SUCCESS;
}

static petrel_push_consumer_t *consumer(petrel_conf_t *c, const char *topic, const char *expr,
                                        tc_seen_t *s) {
    return tc_push_consumer(c, topic, expr, on_msg, s);
}

static void test_send_modes(void **state) {
    create_topic("CliTopicA", 4);
    petrel_producer_t *p = producer("CliPG");
    petrel_send_result_t r;
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "%s%d", i % 2 ? "prop" : "sync", i);
        petrel_msg_t *m = tc_msg("CliTopicA", key, i % 2 ? "B" : "A", i == 3 ? 20000 : 100);
        if (i % 2) petrel_msg_set_property(m, "color", "red");
        assert_int_equal(petrel_producer_send(p, m, &r), PETREL_OK);
        assert_int_equal(r.status, PETREL_SEND_OK);
        assert_int_equal(strlen(r.offset_msg_id), 32);
        petrel_msg_destroy(m);
    }
    assert_int_equal(tc_send_other_modes(p, "CliTopicA", &r), 0);
    /* An unknown topic is created by the broker from TBW102. */
    petrel_msg_t *m = tc_msg("CliFresh", "fresh", NULL, 5);
    assert_int_equal(petrel_producer_send(p, m, &r), PETREL_OK);
    petrel_msg_destroy(m);

    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *c = consumer(conf_for("CliCG1"), "CliTopicA", "*", &s);
    assert_true(TU_WAIT_FOR(tc_seen_unique(&s) == 60, 20000));
    assert_int_equal(s.bad, 0);
    petrel_push_consumer_destroy(c);
    /* Tag filter: only "B" (10 "prop" + 10 batch). */
    tc_seen_t t;
    tc_seen_init(&t);
    c = consumer(conf_for("CliCG2"), "CliTopicA", "B", &t);
    assert_true(TU_WAIT_FOR(tc_seen_count(&t) == 20, 20000));
    tu_sleep_ms(300);
    assert_int_equal(tc_seen_count(&t), 20);
    petrel_push_consumer_destroy(c);
    petrel_producer_destroy(p);
}

static int partitioned(petrel_push_consumer_t **cs, int n, int nq, int min_each) {
    int owner[64] = {0};
    petrel_mq_t mqs[64];
    for (int i = 0; i < n; i++) {
        size_t k = petrel_push_consumer_assignment(cs[i], mqs, 64), mine = 0;
        for (size_t j = 0; j < k && j < 64; j++)
            if (strcmp(mqs[j].topic, "CliTopicR") == 0) {
                owner[mqs[j].queue_id]++;
                mine++;
            }
        if ((int)mine < min_each) return 0;
    }
    for (int q = 0; q < nq; q++)
        if (owner[q] != 1) return 0;
    return 1;
}

static void send_keys(petrel_producer_t *p, const char *topic, int from, int to) {
    char key[32];
    for (int i = from; i < to; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        petrel_msg_t *m = tc_msg(topic, key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
}

static void test_rebalance(void **state) {
    create_topic("CliTopicR", 8);
    petrel_producer_t *p = producer("CliPG");
    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *cs[3];
    cs[0] = consumer(conf_for("CliCGR"), "CliTopicR", "*", &s);
    cs[1] = consumer(conf_for("CliCGR"), "CliTopicR", "*", &s);
    assert_true(TU_WAIT_FOR(partitioned(cs, 2, 8, 4), 20000));
    send_keys(p, "CliTopicR", 0, 100);
    cs[2] = consumer(conf_for("CliCGR"), "CliTopicR", "*", &s);
    assert_true(TU_WAIT_FOR(partitioned(cs, 3, 8, 2), 20000)); /* 3 + 3 + 2 */
    send_keys(p, "CliTopicR", 100, 200);
    petrel_push_consumer_destroy(cs[1]);
    petrel_push_consumer_t *left[2] = {cs[0], cs[2]};
    assert_true(TU_WAIT_FOR(partitioned(left, 2, 8, 4), 20000));
    send_keys(p, "CliTopicR", 200, 300);
    assert_true(TU_WAIT_FOR(tc_seen_unique(&s) == 300, 30000));
    assert_int_equal(s.bad, 0);
    petrel_push_consumer_destroy(cs[0]);
    petrel_push_consumer_destroy(cs[2]);
    petrel_producer_destroy(p);
}

static void test_broadcast_restart(void **state) {
    create_topic("CliTopicB", 3);
    petrel_producer_t *p = producer("CliPG");
    char offdir[700];
    snprintf(offdir, sizeof(offdir), "%s/offsets", P.dir);
    send_keys(p, "CliTopicB", 0, 12);
    for (int round = 0; round < 2; round++) {
        tc_seen_t s;
        tc_seen_init(&s);
        petrel_conf_t *c = conf_for("CliCGB");
        petrel_conf_set(c, "messageModel", "BROADCASTING", NULL, 0);
        petrel_conf_set(c, "instanceName", "bcast-1", NULL, 0);
        petrel_conf_set(c, "offsetStoreDir", offdir, NULL, 0);
        petrel_push_consumer_t *pc = consumer(c, "CliTopicB", "*", &s);
        if (round == 0) {
            assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 12, 20000));
        } else {
            send_keys(p, "CliTopicB", 12, 17);
            assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 5, 20000));
            tu_sleep_ms(500);
            assert_int_equal(tc_seen_count(&s), 5);
            for (int i = 0; i < s.n; i++)
                assert_true(atoi(s.keys[i] + 1) >= 12);
        }
        petrel_push_consumer_destroy(pc);
    }
    petrel_producer_destroy(p);
}

static void test_orderly(void **state) {
    create_topic("CliTopicO", 4);
    petrel_producer_t *p = producer("CliPG");
    petrel_send_result_t r;
    int qof[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 80; i++) {
        char key[32], shard[16];
        snprintf(key, sizeof(key), "o%d", i);
        snprintf(shard, sizeof(shard), "order-%d", i % 4);
        petrel_msg_t *m = tc_msg("CliTopicO", key, NULL, 10);
        assert_int_equal(petrel_producer_send_orderly(p, m, shard, &r), PETREL_OK);
        if (qof[i % 4] < 0) qof[i % 4] = r.mq.queue_id;
        assert_int_equal(r.mq.queue_id, qof[i % 4]);
        petrel_msg_destroy(m);
    }
    tc_ord_t o;
    memset(&o, 0, sizeof(o));
    pthread_mutex_init(&o.mu, NULL);
    for (int q = 0; q < 16; q++)
        o.last[q] = -1;
    petrel_conf_t *c = conf_for("CliCGO");
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    petrel_push_consumer_subscribe(pc, "CliTopicO", "*");
    petrel_push_consumer_set_orderly_listener(pc, tc_on_ordered, &o);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    assert_true(TU_WAIT_FOR(o.n == 80, 20000));
    assert_int_equal(o.violations, 0);
    petrel_push_consumer_destroy(pc);
    petrel_producer_destroy(p);
}

static void test_pull_consumer(void **state) {
    create_topic("CliTopicP", 3);
    petrel_producer_t *p = producer("CliPG");
    send_keys(p, "CliTopicP", 0, 30);
    petrel_mq_t *mqs = NULL;
    size_t nq = 3;
    petrel_pull_consumer_t *pc = tc_pull_all(conf_for("CliCGP"), "CliTopicP", nq, &mqs);
    int got = 0;
    petrel_msg_t *batch[16];
    while (got < 30) {
        size_t n = 0;
        assert_int_equal(petrel_pull_consumer_poll(pc, 5000, batch, 16, &n), PETREL_OK);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++)
            petrel_msg_destroy(batch[i]);
        got += (int)n;
    }
    assert_int_equal(got, 30);
    assert_int_equal(petrel_pull_consumer_commit(pc), PETREL_OK);
    int64_t total = 0;
    for (size_t i = 0; i < nq; i++) {
        int64_t off = -2;
        assert_int_equal(petrel_pull_consumer_committed(pc, &mqs[i], &off), PETREL_OK);
        total += off;
    }
    assert_int_equal(total, 30);
    free(mqs);
    petrel_pull_consumer_destroy(pc);
    petrel_producer_destroy(p);
}

/* mqadmin resetOffsetByTime: the broker tells the consumer (RESET_CONSUMER_CLIENT_OFFSET). */
static void test_offset_reset(void **state) {
    create_topic("CliTopicZ", 2);
    petrel_producer_t *p = producer("CliPG");
    send_keys(p, "CliTopicZ", 0, 10);
    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *pc = consumer(conf_for("CliCGZ"), "CliTopicZ", "*", &s);
    assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 10, 20000));
    tu_sleep_ms(700); /* offsets committed */
    const char *ext[] = {"topic", "CliTopicZ", "group", "CliCGZ", "timestamp",
                         "0",     "isForce",   "true",  NULL};
    rm_response_t *r = NULL;
    assert_int_equal(tu_admin_call(P.br_addr, INVOKE_BROKER_TO_RESET_OFFSET, ext, &r), 0);
    int code = r->cmd.code;
    rm_response_free(r);
    if (code == REQUEST_CODE_NOT_SUPPORTED) {
        petrel_push_consumer_destroy(pc);
        petrel_producer_destroy(p);
        skip();
    }
    assert_int_equal(code, SUCCESS);
    assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 20, 20000)); /* everything again */
    assert_int_equal(tc_seen_unique(&s), 10);
    petrel_push_consumer_destroy(pc);
    petrel_producer_destroy(p);
}

static petrel_tx_state_t tx_exec(petrel_producer_t *p, const petrel_msg_t *m, void *arg) {
    return *(petrel_tx_state_t *)arg;
}

static _Atomic int checks;
static petrel_tx_state_t tx_check(petrel_producer_t *p, const petrel_msg_t *m, void *opaque) {
    checks++;
    const char *k = petrel_msg_keys(m);
    return k && strcmp(k, "tx-unknown") == 0 ? PETREL_TX_COMMIT : PETREL_TX_ROLLBACK;
}

static void test_transactions(void **state) {
    /* END_TRANSACTION is oneway for clients; ask two-way once to see whether the broker has it. */
    const char *probe[] = {"producerGroup",
                           "CliPGX",
                           "tranStateTableOffset",
                           "0",
                           "commitLogOffset",
                           "0",
                           "commitOrRollback",
                           "0",
                           "msgId",
                           "x",
                           NULL};
    rm_response_t *pr = NULL;
    assert_int_equal(tu_admin_call(P.br_addr, END_TRANSACTION, probe, &pr), 0);
    int unsupported = pr->cmd.code == REQUEST_CODE_NOT_SUPPORTED;
    rm_response_free(pr);
    assert_false(unsupported); /* the broker must support END_TRANSACTION */
    create_topic("CliTopicX", 1);
    petrel_conf_t *c = conf_for("CliPGX");
    petrel_producer_t *p = NULL;
    assert_int_equal(petrel_producer_create(c, &p, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    petrel_producer_set_tx_checker(p, tx_check, NULL);
    assert_int_equal(petrel_producer_start(p), PETREL_OK);
    const char *keys[] = {"tx-commit", "tx-rollback", "tx-unknown"};
    petrel_tx_state_t want[] = {PETREL_TX_COMMIT, PETREL_TX_ROLLBACK, PETREL_TX_UNKNOWN};
    for (int i = 0; i < 3; i++) {
        petrel_msg_t *m = tc_msg("CliTopicX", keys[i], NULL, 10);
        petrel_tx_state_t st;
        assert_int_equal(petrel_producer_send_tx(p, m, tx_exec, &want[i], NULL, &st), PETREL_OK);
        assert_int_equal(st, want[i]);
        petrel_msg_destroy(m);
    }
    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *pc = consumer(conf_for("CliCGX"), "CliTopicX", "*", &s);
    /* The commit at once, the unknown one after the broker's check-back. */
    assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 2, 30000));
    assert_true(checks >= 1);
    tu_sleep_ms(500);
    assert_int_equal(tc_seen_count(&s), 2);
    for (int i = 0; i < s.n; i++)
        assert_string_not_equal(s.keys[i], "tx-rollback");
    petrel_push_consumer_destroy(pc);
    petrel_producer_destroy(p);
}

int main(void) {
    if (setup(NULL) != 0) {
        fprintf(stderr, "FAILED: could not start petrel namesrv + broker (logs in %s)\n", P.dir);
        tu_pair_kill(&P);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_modes),        cmocka_unit_test(test_rebalance),
        cmocka_unit_test(test_broadcast_restart), cmocka_unit_test(test_orderly),
        cmocka_unit_test(test_pull_consumer),     cmocka_unit_test(test_offset_reset),
        cmocka_unit_test(test_transactions),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
