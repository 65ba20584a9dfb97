/*
 * client_fixture: what the libpetrel tests share (0060, 0062, test_client_mock):
 * client confs with the tests' short timings, started producers and pull
 * consumers, and the record of what push listeners saw. Header-only (no CMake
 * change); include it after <cmocka.h>.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTS_CLIENT_FIXTURE_H
#define PETREL_TESTS_CLIENT_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "petrel/petrel.h"
#include "testutil.h"

/* A conf for group against the NameServer at ns_addr: rebalance every second, offsets
 * persisted every persist_ms, new groups from the first offset. */
static inline petrel_conf_t *tc_conf(const char *ns_addr, const char *group,
                                     const char *persist_ms) {
    petrel_conf_t *c = petrel_conf_new();
    assert_int_equal(petrel_conf_set(c, "namesrvAddr", ns_addr, NULL, 0), PETREL_OK);
    assert_int_equal(petrel_conf_set(c, "groupName", group, NULL, 0), PETREL_OK);
    petrel_conf_set(c, "rebalanceInterval", "1000", NULL, 0);
    petrel_conf_set(c, "persistConsumerOffsetInterval", persist_ms, NULL, 0);
    petrel_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
    return c;
}

/* A started producer made from c (which it destroys). */
static inline petrel_producer_t *tc_producer(petrel_conf_t *c) {
    petrel_producer_t *p = NULL;
    char err[256];
    assert_int_equal(petrel_producer_create(c, &p, err, sizeof(err)), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_producer_start(p), PETREL_OK);
    return p;
}

/* A started pull consumer made from c (destroyed) that is assigned all nq queues of topic;
 * the queues go to *mqs for the caller to free. */
static inline petrel_pull_consumer_t *tc_pull_all(petrel_conf_t *c, const char *topic, size_t nq,
                                                  petrel_mq_t **mqs) {
    petrel_pull_consumer_t *pc = NULL;
    assert_int_equal(petrel_pull_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_pull_consumer_start(pc), PETREL_OK);
    size_t n = 0;
    *mqs = NULL;
    assert_int_equal(petrel_pull_consumer_fetch_queues(pc, topic, mqs, &n), PETREL_OK);
    assert_int_equal(n, nq);
    assert_int_equal(petrel_pull_consumer_assign(pc, *mqs, n), PETREL_OK);
    return pc;
}

/* A message keyed key whose body is the key then size bytes of a pattern listeners check. */
static inline petrel_msg_t *tc_msg(const char *topic, const char *key, const char *tag,
                                   size_t size) {
    petrel_msg_t *m = petrel_msg_new(topic);
    size_t kl = strlen(key);
    uint8_t *b = malloc(kl + size);
    memcpy(b, key, kl);
    for (size_t i = kl; i < kl + size; i++)
        b[i] = (uint8_t)(i * 7);
    petrel_msg_set_body(m, b, kl + size);
    free(b);
    petrel_msg_set_keys(m, key);
    if (tag) petrel_msg_set_tags(m, tag);
    return m;
}

/* A started push consumer made from c (destroyed) on topic/expr with listener fn. */
static inline petrel_push_consumer_t *tc_push_consumer(petrel_conf_t *c, const char *topic,
                                                       const char *expr, petrel_listener_fn fn,
                                                       void *opaque) {
    petrel_push_consumer_t *pc = NULL;
    char err[256];
    assert_int_equal(petrel_push_consumer_create(c, &pc, err, sizeof(err)), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_push_consumer_subscribe(pc, topic, expr), PETREL_OK);
    assert_int_equal(petrel_push_consumer_set_listener(pc, fn, opaque), PETREL_OK);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    return pc;
}

/* ---- the send modes besides sync ------------------------------------------------- */

typedef struct tc_async_s {
    _Atomic int ok, err;
} tc_async_t;

/* A petrel_send_cb counting into the tc_async_t opaque (NULL: ignored); ok needs a msg id. */
static inline void tc_on_sent(petrel_producer_t *p, petrel_err_t err,
                              const petrel_send_result_t *r, void *opaque) {
    tc_async_t *a = opaque;
    if (!a) return;
    if (err == PETREL_OK && r && strlen(r->msg_id) == 32) a->ok++;
    else a->err++;
}

/* On topic: 20 async sends ("async<i>", tag A, 100 bytes; all answered), 10 oneway
 * ("oneway<i>", A, 10 bytes) and a batch of 10 ("batch<i>", B, 20 bytes) whose result goes
 * to *r. Returns how many async sends failed. */
static inline int tc_send_other_modes(petrel_producer_t *p, const char *topic,
                                      petrel_send_result_t *r) {
    static tc_async_t a; /* static: late callbacks of a failed test write nowhere dead */
    a.ok = a.err = 0;
    char key[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "async%d", i);
        petrel_msg_t *m = tc_msg(topic, key, "A", 100);
        assert_int_equal(petrel_producer_send_async(p, m, tc_on_sent, &a), PETREL_OK);
        petrel_msg_destroy(m);
    }
    assert_true(TU_WAIT_FOR(a.ok + a.err == 20, 10000));
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "oneway%d", i);
        petrel_msg_t *m = tc_msg(topic, key, "A", 10);
        assert_int_equal(petrel_producer_send_oneway(p, m), PETREL_OK);
        petrel_msg_destroy(m);
    }
    petrel_msg_t *batch[10];
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof(key), "batch%d", i);
        batch[i] = tc_msg(topic, key, "B", 20);
    }
    assert_int_equal(petrel_producer_send_batch(p, batch, 10, r), PETREL_OK);
    for (int i = 0; i < 10; i++)
        petrel_msg_destroy(batch[i]);
    return a.err;
}

/* ---- orderly listeners: one message of a queue at a time, offsets rising ---------- */

typedef struct tc_ord_s {
    pthread_mutex_t mu;
    int64_t last[16];
    int inside[16];
    int n, violations;
} tc_ord_t;

static inline petrel_consume_status_t tc_on_ordered(petrel_push_consumer_t *c,
                                                    const petrel_msg_t *m, void *opaque) {
    tc_ord_t *o = opaque;
    int q = petrel_msg_queue_id(m) & 15;
    pthread_mutex_lock(&o->mu);
    if (o->inside[q]++) o->violations++;
    if (petrel_msg_queue_offset(m) <= o->last[q]) o->violations++;
    o->last[q] = petrel_msg_queue_offset(m);
    pthread_mutex_unlock(&o->mu);
    tu_sleep_ms(1);
    pthread_mutex_lock(&o->mu);
    o->inside[q]--;
    o->n++;
    pthread_mutex_unlock(&o->mu);
    return PETREL_CONSUME_SUCCESS;
}

/* ---- what push listeners saw ----------------------------------------------------- */

#define TC_SEEN_MAX 4096
typedef struct tc_seen_s {
    pthread_mutex_t mu;
    int n;
    int bad; /* content checks failed */
    char keys[TC_SEEN_MAX][32];
    int queue[TC_SEEN_MAX];
    int64_t qoff[TC_SEEN_MAX];
    int fail_first; /* test_client_mock: RECONSUME_LATER on the first delivery of "retry-me" */
    int retried;
    int reconsume_seen;
    char topic_seen[64];
} tc_seen_t;

static inline void tc_seen_init(tc_seen_t *s) {
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->mu, NULL);
}

static inline int tc_seen_count(tc_seen_t *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* Distinct keys seen (redeliveries count once). */
static inline int tc_seen_unique(tc_seen_t *s) {
    pthread_mutex_lock(&s->mu);
    int u = 0;
    for (int i = 0; i < s->n; i++) {
        int dup = 0;
        for (int k = 0; k < i && !dup; k++)
            dup = strcmp(s->keys[i], s->keys[k]) == 0;
        u += !dup;
    }
    pthread_mutex_unlock(&s->mu);
    return u;
}

#endif
