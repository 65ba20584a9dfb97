/*
 * test_client_mock: libpetrel end to end against the in-process mock broker
 * (test_client_mockbroker.h): sync/async/oneway/batch sends consumed by a push
 * consumer with tags, keys, properties and compressed binary bodies intact;
 * tag filtering; send-back and redelivery from the retry topic; rebalance as a
 * third consumer joins and one leaves; broadcasting offsets surviving a
 * restart; orderly consumption; the pull consumer; transactions; and
 * create/destroy cycles (leak-checked under ASan).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../client_fixture.h"
#include "../testutil.h"
#include "petrel/petrel.h"
#include "test_client_mockbroker.h"

static petrel_conf_t *conf_for(mb_t *mb, const char *group) {
    petrel_conf_t *c = tc_conf(mb->addr, group, "200");
    petrel_conf_set(c, "suspendTimeoutMillis", "1000", NULL, 0);
    return c;
}

static petrel_producer_t *producer(mb_t *mb) { return tc_producer(conf_for(mb, "PG")); }

static petrel_consume_status_t on_msg(petrel_push_consumer_t *c, const petrel_msg_t *m,
                                      void *opaque) {
    tc_seen_t *s = opaque;
    const char *k = petrel_msg_keys(m);
    size_t len;
    const uint8_t *body = petrel_msg_body(m, &len);
    pthread_mutex_lock(&s->mu);
    if (k && strcmp(k, "retry-me") == 0 && s->fail_first && !s->retried) {
        s->retried = 1;
        pthread_mutex_unlock(&s->mu);
        return PETREL_RECONSUME_LATER;
    }
    if (k && strcmp(k, "retry-me") == 0) {
        s->reconsume_seen = petrel_msg_reconsume_times(m);
        snprintf(s->topic_seen, sizeof(s->topic_seen), "%s", petrel_msg_topic(m));
    }
    /* Bodies are "<key>" + pattern bytes; big ones carry every byte value. */
    if (!k || len < strlen(k) || memcmp(body, k, strlen(k)) != 0) s->bad++;
    for (size_t i = strlen(k ? k : ""); i < len; i++)
        if (body[i] != (uint8_t)(i * 7)) {
            s->bad++;
            break;
        }
    if (!petrel_msg_id(m) || strlen(petrel_msg_id(m)) != 32 || !petrel_msg_offset_id(m)) s->bad++;
    if (k && strncmp(k, "prop", 4) == 0) {
        const char *v = petrel_msg_property(m, "color");
        if (!v || strcmp(v, "red") != 0) s->bad++;
    }
    if (s->n < TC_SEEN_MAX) {
        snprintf(s->keys[s->n], 32, "%s", k ? k : "");
        s->queue[s->n] = petrel_msg_queue_id(m);
        s->qoff[s->n] = petrel_msg_queue_offset(m);
        s->n++;
    }
    pthread_mutex_unlock(&s->mu);
    return PETREL_CONSUME_SUCCESS;
}

static petrel_push_consumer_t *consumer(mb_t *mb, const char *group, const char *topic,
                                        const char *expr, tc_seen_t *s, petrel_conf_t *extra) {
    return tc_push_consumer(extra ? extra : conf_for(mb, group), topic, expr, on_msg, s);
}

static void test_send_modes(void **state) {
    const char *topics[] = {"TopicA:4", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    petrel_send_result_t r;
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "%s%d", i % 2 ? "prop" : "sync", i);
        petrel_msg_t *m = tc_msg("TopicA", key, i % 2 ? "B" : "A", i == 3 ? 9000 : 50);
        if (i % 2) petrel_msg_set_property(m, "color", "red");
        assert_int_equal(petrel_producer_send(p, m, &r), PETREL_OK);
        assert_int_equal(r.status, PETREL_SEND_OK);
        assert_int_equal(strlen(r.msg_id), 32);
        assert_int_equal(strlen(r.offset_msg_id), 32);
        assert_string_equal(r.mq.broker_name, "broker-a");
        petrel_msg_destroy(m);
    }
    /* Round-robin: 20 sends over 4 queues, 5 each. */
    for (int q = 0; q < 4; q++)
        assert_int_equal(mb_queue_len(mb, "TopicA", q), 5);
    assert_int_equal(tc_send_other_modes(p, "TopicA", &r), 0);
    assert_int_equal(r.count, 10);
    /* A new topic goes through TBW102 and is auto-created with 4 queues. */
    petrel_msg_t *m = tc_msg("FreshTopic", "fresh", NULL, 5);
    assert_int_equal(petrel_producer_send(p, m, &r), PETREL_OK);
    petrel_msg_destroy(m);
    assert_int_equal(mb_queue_len(mb, "FreshTopic", r.mq.queue_id), 1);
    /* Argument checks. */
    m = petrel_msg_new("TopicA");
    assert_int_equal(petrel_producer_send(p, m, &r), PETREL_EINVAL); /* empty body */
    petrel_msg_destroy(m);

    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *c = consumer(mb, "CG1", "TopicA", "*", &s, NULL);
    assert_true(TU_WAIT_FOR(tc_seen_count(&s) >= 60, 10000));
    assert_int_equal(tc_seen_unique(&s), 60);
    assert_int_equal(s.bad, 0);
    /* Offsets reach the broker (periodic persistence). */
    int64_t total = 0;
    for (int q = 0; q < 4; q++)
        total += mb_queue_len(mb, "TopicA", q);
    assert_true(TU_WAIT_FOR(mb_offset(mb, "CG1", "TopicA", 0) + mb_offset(mb, "CG1", "TopicA", 1) +
                                    mb_offset(mb, "CG1", "TopicA", 2) +
                                    mb_offset(mb, "CG1", "TopicA", 3) ==
                                total,
                            5000));
    assert_true(TU_WAIT_FOR(mb_count(mb, HEART_BEAT) >= 2, 5000)); /* producer and consumer */
    petrel_push_consumer_destroy(c);
    petrel_producer_destroy(p);
    assert_true(mb_count(mb, UNREGISTER_CLIENT) >= 2);
    assert_true(mb_count(mb, HEART_BEAT) >= 2);
    mb_stop(mb);
}

static void test_tags_and_retry(void **state) {
    const char *topics[] = {"TopicT:2", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    const char *keys[] = {"a1", "b1", "retry-me", "b2", "c1"};
    const char *tags[] = {"A", "B", "A", "B", "C"};
    for (int i = 0; i < 5; i++) {
        petrel_msg_t *m = tc_msg("TopicT", keys[i], tags[i], 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    tc_seen_t s;
    tc_seen_init(&s);
    s.fail_first = 1;
    petrel_push_consumer_t *c = consumer(mb, "CGT", "TopicT", "A || C", &s, NULL);
    /* a1, c1, then retry-me once more from %RETRY%CGT. */
    assert_true(TU_WAIT_FOR(tc_seen_count(&s) >= 3, 10000));
    assert_int_equal(mb_count(mb, CONSUMER_SEND_MSG_BACK), 1);
    assert_int_equal(s.reconsume_seen, 1);
    assert_string_equal(s.topic_seen, "TopicT");
    for (int i = 0; i < s.n; i++)
        assert_true(s.keys[i][0] != 'b');
    petrel_push_consumer_destroy(c);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

/* Every queue owned by exactly one consumer. */
static int partitioned(petrel_push_consumer_t **cs, int n, int nq) {
    int owner[64] = {0};
    petrel_mq_t mqs[64];
    for (int i = 0; i < n; i++) {
        size_t k = petrel_push_consumer_assignment(cs[i], mqs, 64);
        for (size_t j = 0; j < k && j < 64; j++)
            if (strcmp(mqs[j].topic, "TopicR") == 0) owner[mqs[j].queue_id]++;
    }
    for (int q = 0; q < nq; q++)
        if (owner[q] != 1) return 0;
    return 1;
}

static void test_rebalance(void **state) {
    const char *topics[] = {"TopicR:8", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    tc_seen_t s;
    tc_seen_init(&s);
    petrel_push_consumer_t *cs[3];
    cs[0] = consumer(mb, "CGR", "TopicR", "*", &s, NULL);
    cs[1] = consumer(mb, "CGR", "TopicR", "*", &s, NULL);
    assert_true(TU_WAIT_FOR(partitioned(cs, 2, 8), 10000));
    char key[32];
    int sent = 0;
    for (; sent < 100; sent++) {
        snprintf(key, sizeof(key), "k%d", sent);
        petrel_msg_t *m = tc_msg("TopicR", key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    cs[2] = consumer(mb, "CGR", "TopicR", "*", &s, NULL);
    /* Settled: 3 + 3 + 2 queues (AVG), none owned twice. */
    assert_true(TU_WAIT_FOR(mb_members(mb, "CGR") == 3 && partitioned(cs, 3, 8) &&
                                petrel_push_consumer_assignment(cs[0], NULL, 0) >= 2 &&
                                petrel_push_consumer_assignment(cs[1], NULL, 0) >= 2 &&
                                petrel_push_consumer_assignment(cs[2], NULL, 0) >= 2,
                            10000));
    for (; sent < 200; sent++) {
        snprintf(key, sizeof(key), "k%d", sent);
        petrel_msg_t *m = tc_msg("TopicR", key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    petrel_push_consumer_destroy(cs[1]);
    petrel_push_consumer_t *left[2] = {cs[0], cs[2]};
    assert_true(TU_WAIT_FOR(mb_members(mb, "CGR") == 2 && partitioned(left, 2, 8), 10000));
    for (; sent < 300; sent++) {
        snprintf(key, sizeof(key), "k%d", sent);
        petrel_msg_t *m = tc_msg("TopicR", key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    /* Every message consumed (at least once; duplicates are allowed around a handover). */
    assert_true(TU_WAIT_FOR(tc_seen_unique(&s) == 300, 15000));
    assert_int_equal(s.bad, 0);
    petrel_push_consumer_destroy(cs[0]);
    petrel_push_consumer_destroy(cs[2]);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

static void test_broadcast_restart(void **state) {
    const char *topics[] = {"TopicB:3", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    char *dir = tu_tmpdir("petrel-bcast");
    char key[32];
    for (int i = 0; i < 12; i++) {
        snprintf(key, sizeof(key), "first%d", i);
        petrel_msg_t *m = tc_msg("TopicB", key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    for (int round = 0; round < 2; round++) {
        tc_seen_t s;
        tc_seen_init(&s);
        petrel_conf_t *c = conf_for(mb, "CGB");
        petrel_conf_set(c, "messageModel", "BROADCASTING", NULL, 0);
        petrel_conf_set(c, "instanceName", "bcast-1", NULL, 0);
        petrel_conf_set(c, "offsetStoreDir", dir, NULL, 0);
        petrel_push_consumer_t *pc = consumer(mb, "CGB", "TopicB", "*", &s, c);
        if (round == 0) {
            assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 12, 10000));
        } else {
            for (int i = 0; i < 5; i++) {
                snprintf(key, sizeof(key), "second%d", i);
                petrel_msg_t *m = tc_msg("TopicB", key, NULL, 10);
                assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
                petrel_msg_destroy(m);
            }
            assert_true(TU_WAIT_FOR(tc_seen_count(&s) == 5, 10000));
            tu_sleep_ms(300); /* nothing old comes back */
            assert_int_equal(tc_seen_count(&s), 5);
            for (int i = 0; i < s.n; i++)
                assert_memory_equal(s.keys[i], "second", 6);
        }
        petrel_push_consumer_destroy(pc);
    }
    /* Offsets stayed local: the broker never stored any for the group. */
    assert_int_equal(mb_offset(mb, "CGB", "TopicB", 0), -1);
    char path[1024];
    snprintf(path, sizeof(path), "%s/127.0.0.1@bcast-1/CGB/offsets.json", dir);
    char *text = NULL;
    size_t len;
    if (file_read_all(path, &text, &len) != 0) {
        /* the client id uses the first non-loopback address */
        char cmd[1200];
        snprintf(cmd, sizeof(cmd), "ls %s/*/CGB/offsets.json > /dev/null", dir);
        assert_int_equal(system(cmd), 0);
    }
    free(text);
    tu_rmrf(dir);
    free(dir);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

/* Orderly: per queue, offsets strictly increasing, one thread at a time. */
static void test_orderly(void **state) {
    const char *topics[] = {"TopicO:4", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    petrel_send_result_t r;
    int qof[4] = {-1, -1, -1, -1};
    for (int i = 0; i < 80; i++) {
        char key[32], shard[16];
        snprintf(key, sizeof(key), "o%d", i);
        snprintf(shard, sizeof(shard), "order-%d", i % 4);
        petrel_msg_t *m = tc_msg("TopicO", key, NULL, 10);
        assert_int_equal(petrel_producer_send_orderly(p, m, shard, &r), PETREL_OK);
        if (qof[i % 4] < 0) qof[i % 4] = r.mq.queue_id;
        assert_int_equal(r.mq.queue_id, qof[i % 4]); /* same key, same queue */
        petrel_msg_destroy(m);
    }
    tc_ord_t o;
    memset(&o, 0, sizeof(o));
    pthread_mutex_init(&o.mu, NULL);
    for (int q = 0; q < 8; q++)
        o.last[q] = -1;
    petrel_conf_t *c = conf_for(mb, "CGO");
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    petrel_push_consumer_subscribe(pc, "TopicO", "*");
    petrel_push_consumer_set_orderly_listener(pc, tc_on_ordered, &o);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    assert_true(TU_WAIT_FOR(o.n == 80, 10000));
    assert_int_equal(o.violations, 0);
    assert_true(mb_count(mb, LOCK_BATCH_MQ) >= 1);
    petrel_push_consumer_destroy(pc);
    assert_true(mb_count(mb, UNLOCK_BATCH_MQ) >= 1);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

static petrel_push_consumer_t *orderly_consumer(mb_t *mb, const char *topic, tc_ord_t *o) {
    petrel_conf_t *c = conf_for(mb, "CGO2");
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    petrel_push_consumer_subscribe(pc, topic, "*");
    petrel_push_consumer_set_orderly_listener(pc, tc_on_ordered, o);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    return pc;
}

/* Orderly queues handed over while consuming: order holds across consumers, nothing lost. */
static void test_orderly_handover(void **state) {
    const char *topics[] = {"TopicOH:4", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    tc_ord_t o;
    memset(&o, 0, sizeof(o));
    pthread_mutex_init(&o.mu, NULL);
    for (int q = 0; q < 8; q++)
        o.last[q] = -1;
    petrel_push_consumer_t *a = orderly_consumer(mb, "TopicOH", &o);
    for (int i = 0; i < 400; i++) {
        char key[32], shard[16];
        snprintf(key, sizeof(key), "h%d", i);
        snprintf(shard, sizeof(shard), "s%d", i % 8);
        petrel_msg_t *m = tc_msg("TopicOH", key, NULL, 10);
        assert_int_equal(petrel_producer_send_orderly(p, m, shard, NULL), PETREL_OK);
        petrel_msg_destroy(m);
        if (i == 100) {
            petrel_push_consumer_t *b = orderly_consumer(mb, "TopicOH", &o);
            assert_true(TU_WAIT_FOR(petrel_push_consumer_assignment(b, NULL, 0) >= 2, 10000));
            /* b takes half of the queues, consumes a while, then leaves. */
            assert_true(TU_WAIT_FOR(o.n >= 101, 10000));
            petrel_push_consumer_destroy(b);
        }
    }
    assert_true(TU_WAIT_FOR(o.n >= 400, 15000));
    assert_int_equal(o.violations, 0);
    petrel_push_consumer_destroy(a);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

static void test_pull_consumer(void **state) {
    const char *topics[] = {"TopicP:3", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    for (int i = 0; i < 30; i++) {
        char key[32];
        snprintf(key, sizeof(key), "p%d", i);
        petrel_msg_t *m = tc_msg("TopicP", key, NULL, 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    petrel_mq_t *mqs = NULL;
    size_t nq = 3;
    petrel_pull_consumer_t *pc = tc_pull_all(conf_for(mb, "CGP"), "TopicP", nq, &mqs);
    int got = 0;
    petrel_msg_t *batch[16];
    while (got < 30) {
        size_t n = 0;
        assert_int_equal(petrel_pull_consumer_poll(pc, 2000, batch, 16, &n), PETREL_OK);
        assert_true(n > 0);
        for (size_t i = 0; i < n; i++)
            petrel_msg_destroy(batch[i]);
        got += (int)n;
    }
    assert_int_equal(got, 30);
    size_t n = 7;
    assert_int_equal(petrel_pull_consumer_poll(pc, 100, batch, 16, &n), PETREL_OK);
    assert_int_equal(n, 0);
    assert_int_equal(petrel_pull_consumer_commit(pc), PETREL_OK);
    int64_t off = -2;
    assert_int_equal(petrel_pull_consumer_committed(pc, &mqs[0], &off), PETREL_OK);
    assert_int_equal(off, 10);
    /* Seek back and read the queue again. */
    assert_int_equal(petrel_pull_consumer_seek(pc, &mqs[1], 5), PETREL_OK);
    assert_int_equal(petrel_pull_consumer_poll(pc, 2000, batch, 16, &n), PETREL_OK);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(petrel_msg_queue_id(batch[i]), mqs[1].queue_id);
        petrel_msg_destroy(batch[i]);
    }
    free(mqs);
    petrel_pull_consumer_destroy(pc);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

/* Pull consumers that subscribe share the queues of the group through rebalance. */
static void test_pull_subscribe(void **state) {
    const char *topics[] = {"TopicPS:4", NULL};
    mb_t *mb = mb_start(topics);
    petrel_producer_t *p = producer(mb);
    for (int i = 0; i < 40; i++) {
        char key[32];
        snprintf(key, sizeof(key), "ps%d", i);
        petrel_msg_t *m = tc_msg("TopicPS", key, i % 2 ? "odd" : "even", 10);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    petrel_pull_consumer_t *pc[2];
    for (int i = 0; i < 2; i++) {
        petrel_conf_t *c = conf_for(mb, "CGPS");
        assert_int_equal(petrel_pull_consumer_create(c, &pc[i], NULL, 0), PETREL_OK);
        petrel_conf_destroy(c);
        assert_int_equal(petrel_pull_consumer_subscribe(pc[i], "TopicPS", "even"), PETREL_OK);
        assert_int_equal(petrel_pull_consumer_start(pc[i]), PETREL_OK);
    }
    /* Both members known: each ends up with 2 of the 4 queues; together they read 20 "even". */
    /* Until both have rebalanced a queue may be read by both (at least once), so count keys. */
    int seen[40] = {0}, unique = 0, bad = 0;
    int64_t deadline = tu_now_ms() + tu_scaled(15000);
    while (unique < 20 && tu_now_ms() < deadline) {
        for (int i = 0; i < 2; i++) {
            petrel_msg_t *batch[16];
            size_t n = 0;
            assert_int_equal(petrel_pull_consumer_poll(pc[i], 100, batch, 16, &n), PETREL_OK);
            for (size_t k = 0; k < n; k++) {
                bad += strcmp(petrel_msg_tags(batch[k]), "even") != 0;
                int key = atoi(petrel_msg_keys(batch[k]) + 2);
                if (key >= 0 && key < 40 && !seen[key]++) unique++;
                petrel_msg_destroy(batch[k]);
            }
        }
    }
    assert_int_equal(unique, 20);
    assert_int_equal(bad, 0);
    /* Positions move past filtered-out messages too: polling on, the committed offsets reach
     * the end of every queue. */
    int64_t total = 0;
    deadline = tu_now_ms() + tu_scaled(15000);
    while (total != 40 && tu_now_ms() < deadline) {
        total = 0;
        for (int i = 0; i < 2; i++) {
            petrel_msg_t *batch[16];
            size_t n = 0;
            assert_int_equal(petrel_pull_consumer_poll(pc[i], 50, batch, 16, &n), PETREL_OK);
            for (size_t k = 0; k < n; k++)
                petrel_msg_destroy(batch[k]);
            assert_int_equal(petrel_pull_consumer_commit(pc[i]), PETREL_OK);
        }
        for (int q = 0; q < 4; q++)
            total += mb_offset(mb, "CGPS", "TopicPS", q);
    }
    assert_int_equal(total, 40);
    for (int i = 0; i < 2; i++)
        petrel_pull_consumer_destroy(pc[i]);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

static petrel_tx_state_t tx_exec(petrel_producer_t *p, const petrel_msg_t *m, void *arg) {
    assert_non_null(petrel_msg_id(m));
    return *(petrel_tx_state_t *)arg;
}

static _Atomic int checks;
static petrel_tx_state_t tx_check(petrel_producer_t *p, const petrel_msg_t *m, void *opaque) {
    size_t len;
    const char *b = petrel_msg_body(m, &len);
    checks++;
    /* The half message comes back whole: body, keys and the id the producer set. */
    if (len < 9 || memcmp(b, "tx-unknown", 9) != 0 || !petrel_msg_id(m)) return PETREL_TX_UNKNOWN;
    return PETREL_TX_COMMIT;
}

static void test_transactions(void **state) {
    const char *topics[] = {"TopicX:1", NULL};
    mb_t *mb = mb_start(topics);
    petrel_conf_t *conf = conf_for(mb, "PGX");
    petrel_producer_t *p = NULL;
    assert_int_equal(petrel_producer_create(conf, &p, NULL, 0), PETREL_OK);
    petrel_conf_destroy(conf);
    assert_int_equal(petrel_producer_set_tx_checker(p, tx_check, NULL), PETREL_OK);
    assert_int_equal(petrel_producer_start(p), PETREL_OK);
    assert_int_equal(petrel_producer_set_tx_checker(p, tx_check, NULL), PETREL_ESTATE);
    petrel_tx_state_t st, want = PETREL_TX_COMMIT;
    petrel_msg_t *m = tc_msg("TopicX", "tx-commit", NULL, 10);
    assert_int_equal(petrel_producer_send_tx(p, m, tx_exec, &want, NULL, &st), PETREL_OK);
    assert_int_equal(st, PETREL_TX_COMMIT);
    petrel_msg_destroy(m);
    want = PETREL_TX_ROLLBACK;
    m = tc_msg("TopicX", "tx-rollback", NULL, 10);
    assert_int_equal(petrel_producer_send_tx(p, m, tx_exec, &want, NULL, &st), PETREL_OK);
    petrel_msg_destroy(m);
    assert_true(TU_WAIT_FOR(mb->end_tx[0] == 1 && mb->end_tx[1] == 1, 5000));
    assert_int_equal(mb_queue_len(mb, "TopicX", 0), 1); /* only the committed one is visible */
    /* UNKNOWN, then the broker checks back and the checker commits. */
    want = PETREL_TX_UNKNOWN;
    m = tc_msg("TopicX", "tx-unknown", NULL, 10);
    assert_int_equal(petrel_producer_send_tx(p, m, tx_exec, &want, NULL, &st), PETREL_OK);
    petrel_msg_destroy(m);
    assert_true(TU_WAIT_FOR(checks == 1 && mb_queue_len(mb, "TopicX", 0) == 2, 5000));
    assert_int_equal(mb->end_tx[0], 2);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

/* serializeType=ROCKETMQ: binary request headers, same results. */
static void test_binary_headers(void **state) {
    const char *topics[] = {"TopicBin:2", NULL};
    mb_t *mb = mb_start(topics);
    petrel_conf_t *c = conf_for(mb, "PGBIN");
    assert_int_equal(petrel_conf_set(c, "serializeType", "ROCKETMQ", NULL, 0), PETREL_OK);
    petrel_producer_t *p = NULL;
    assert_int_equal(petrel_producer_create(c, &p, NULL, 0), PETREL_OK);
    assert_int_equal(petrel_producer_start(p), PETREL_OK);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof(key), "prop%d", i);
        petrel_msg_t *m = tc_msg("TopicBin", key, "T", i == 0 ? 6000 : 30);
        petrel_msg_set_property(m, "color", "red");
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    tc_seen_t s;
    tc_seen_init(&s);
    petrel_conf_set(c, "groupName", "CGBIN", NULL, 0);
    petrel_push_consumer_t *pc = consumer(mb, "CGBIN", "TopicBin", "*", &s, c);
    assert_true(TU_WAIT_FOR(tc_seen_unique(&s) == 10, 10000));
    assert_int_equal(s.bad, 0);
    petrel_push_consumer_destroy(pc);
    petrel_producer_destroy(p);
    mb_stop(mb);
}

static void test_cycles(void **state) {
    const char *topics[] = {"TopicC:2", NULL};
    mb_t *mb = mb_start(topics);
    for (int i = 0; i < 4; i++) {
        petrel_producer_t *p = producer(mb);
        petrel_msg_t *m = tc_msg("TopicC", "cyc", NULL, 5000);
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        assert_int_equal(petrel_producer_send_async(p, m, tc_on_sent, NULL), PETREL_OK);
        petrel_msg_destroy(m);
        tc_seen_t s;
        tc_seen_init(&s);
        petrel_push_consumer_t *c = consumer(mb, "CGC", "TopicC", "*", &s, NULL);
        assert_true(TU_WAIT_FOR(tc_seen_count(&s) >= 1, 5000));
        petrel_push_consumer_destroy(c);
        petrel_producer_destroy(p);
    }
    /* Never started objects are freed too. */
    petrel_conf_t *c = conf_for(mb, "X");
    petrel_producer_t *p = NULL;
    assert_int_equal(petrel_producer_create(c, &p, NULL, 0), PETREL_OK);
    petrel_producer_destroy(p);
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_ESTATE); /* no listener */
    petrel_push_consumer_destroy(pc);
    petrel_conf_set(c, "namesrvAddr", "", NULL, 0);
    char err[128];
    assert_int_equal(petrel_producer_create(c, &p, err, sizeof(err)), PETREL_ECONFIG);
    petrel_conf_destroy(c);
    mb_stop(mb);
}

int main(void) {
    if (getenv("PETREL_TEST_LOG")) petrel_set_log_cb(petrel_log_stderr, PETREL_LOG_DEBUG, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_modes),     cmocka_unit_test(test_tags_and_retry),
        cmocka_unit_test(test_rebalance),      cmocka_unit_test(test_broadcast_restart),
        cmocka_unit_test(test_orderly),        cmocka_unit_test(test_orderly_handover),
        cmocka_unit_test(test_pull_consumer),  cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_binary_headers), cmocka_unit_test(test_pull_subscribe),
        cmocka_unit_test(test_cycles),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
