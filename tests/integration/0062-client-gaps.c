/*
 * libpetrel against real `petrel namesrv` + `petrel broker` processes, for
 * what 0060 does not cover: every message's ids of a batch send (each offset
 * id resolves with VIEW_MESSAGE_BY_ID to its own record); the pull consumer's
 * long poll (held at the broker, answered by a message sent while it waits);
 * and an orderly listener that keeps failing, whose message goes to
 * %DLQ%<group> after maxReconsumeTimes local retries while later messages of
 * the queue are consumed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../client_fixture.h"
#include "../testutil.h"
#include "petrel/petrel.h"
#include "remoting/remoting.h"

static tu_pair_t P; /* NameServer + broker-a */
static int m_port; /* the broker's /metrics */

static void create_topic(const char *topic, int queues) {
    assert_int_equal(tu_create_topic(&P, topic, queues), 0);
}

static int setup(void **state) {
    (void)state;
    static const char *const ns_extra[] = {"--metricsPort=-1", NULL};
    char mp[64];
    m_port = tu_free_port();
    snprintf(mp, sizeof(mp), "--metricsPort=%d", m_port);
    const char *const br_extra[] = {mp, "--mappedFileSizeCommitLog=4194304", NULL};
    if (tu_pair_start(&P, "petrel-it-client-gaps", ns_extra, br_extra) != 0) return -1;
    if (getenv("PETREL_TEST_LOG")) petrel_set_log_cb(petrel_log_stderr, PETREL_LOG_INFO, NULL);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    return tu_pair_stop(&P, 0);
}

static petrel_conf_t *conf_for(const char *group) { return tc_conf(P.ns_addr, group, "300"); }

static petrel_producer_t *producer(const char *group) { return tc_producer(conf_for(group)); }

static petrel_msg_t *mk(const char *topic, const char *key, const char *body) {
    petrel_msg_t *m = petrel_msg_new(topic);
    petrel_msg_set_keys(m, key);
    petrel_msg_set_body(m, body, strlen(body));
    return m;
}

static int64_t be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

/* ---- batch ids ----------------------------------------------------------------- */

#define NB 8

static void test_batch_ids(void **state) {
    create_topic("GapTopicB", 2);
    petrel_producer_t *p = producer("GapPG");
    petrel_msg_t *msgs[NB];
    char bodies[NB][32];
    for (int i = 0; i < NB; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "batch-body-%d", i);
        msgs[i] = mk("GapTopicB", bodies[i], bodies[i]);
    }
    /* One member brings its own UNIQ_KEY: it is reported as is. */
    petrel_msg_set_property(msgs[3], PETREL_PROP_UNIQ_KEY, "0A0B0C0D0E0F00000000000000000003");
    petrel_send_result_t res;
    petrel_msg_ids_t ids[NB];
    memset(ids, 0x55, sizeof(ids));
    assert_int_equal(petrel_producer_send_batch_ids(p, msgs, NB, &res, ids), PETREL_OK);
    assert_int_equal(res.count, NB);
    assert_string_equal(res.msg_id, ids[0].msg_id);
    assert_string_equal(res.offset_msg_id, ids[0].offset_msg_id);
    assert_string_equal(ids[3].msg_id, "0A0B0C0D0E0F00000000000000000003");
    for (int i = 0; i < NB; i++) {
        assert_int_equal(strlen(ids[i].msg_id), 32);
        assert_int_equal(strlen(ids[i].offset_msg_id), 32);
        assert_int_equal(ids[i].queue_offset, res.queue_offset + i);
        for (int k = 0; k < i; k++) {
            assert_string_not_equal(ids[i].msg_id, ids[k].msg_id);
            assert_string_not_equal(ids[i].offset_msg_id, ids[k].offset_msg_id);
        }
        /* hex(ip 4, port 4, commit-log offset 8): the record there is this message. */
        long long off = strtoll(ids[i].offset_msg_id + 16, NULL, 16);
        char offs[24];
        snprintf(offs, sizeof(offs), "%lld", off);
        const char *ext[] = {"offset", offs, NULL};
        rm_response_t *r = NULL;
        assert_int_equal(tu_admin_call(P.br_addr, VIEW_MESSAGE_BY_ID, ext, &r), 0);
        assert_int_equal(r->cmd.code, SUCCESS);
        assert_true(r->cmd.body_len > 28);
        assert_int_equal(be64(r->cmd.body + 20), ids[i].queue_offset); /* QUEUEOFFSET */
        assert_non_null(memmem(r->cmd.body, r->cmd.body_len, bodies[i], strlen(bodies[i])));
        assert_non_null(memmem(r->cmd.body, r->cmd.body_len, ids[i].msg_id, 32));
        /* The next member's body is not in this record. */
        if (i + 1 < NB)
            assert_null(memmem(r->cmd.body, r->cmd.body_len, bodies[i + 1], strlen(bodies[i + 1])));
        rm_response_free(r);
    }
    /* The plain call still works and NULL ids are fine. */
    assert_int_equal(petrel_producer_send_batch_ids(p, msgs, 2, &res, NULL), PETREL_OK);
    assert_int_equal(res.count, 2);
    for (int i = 0; i < NB; i++)
        petrel_msg_destroy(msgs[i]);
    petrel_producer_destroy(p);
}

/* ---- pull consumer long poll ---------------------------------------------------- */

/* petrel_long_polling_held from the broker's /metrics, -1 when unreadable. */
static long long held_pulls(void) {
    int fd = tu_connect(m_port);
    if (fd < 0) return -1;
    const char *req = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (cap - len < 4096) buf = realloc(buf, cap *= 2);
        ssize_t r = read(fd, buf + len, cap - len - 1);
        if (r <= 0) break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = 0;
    long long v = -1;
    const char *s = strstr(buf, "\npetrel_long_polling_held{");
    if (s && (s = strchr(s, '}'))) v = strtoll(s + 1, NULL, 10);
    free(buf);
    return v;
}

typedef struct poller_s {
    petrel_pull_consumer_t *pc;
    int timeout;
    petrel_err_t rc;
    size_t n;
    petrel_msg_t *msgs[8];
} poller_t;

static void *poll_thread(void *arg) {
    poller_t *t = arg;
    t->rc = petrel_pull_consumer_poll(t->pc, t->timeout, t->msgs, 8, &t->n);
    return NULL;
}

static void test_pull_long_poll(void **state) {
    create_topic("GapTopicL", 1);
    petrel_mq_t *mqs = NULL;
    size_t nq = 1;
    petrel_pull_consumer_t *pc = tc_pull_all(conf_for("GapCGL"), "GapTopicL", nq, &mqs);
    free(mqs);
    assert_int_equal(held_pulls(), 0);

    /* A poll waiting 30 s is held at the broker and answered by a message sent meanwhile. */
    poller_t t = {pc, 30000, -1, 0, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_thread, &t), 0);
    assert_true(TU_WAIT_FOR(held_pulls() == 1, 10000));
    petrel_producer_t *p = producer("GapPG");
    petrel_msg_t *m = mk("GapTopicL", "lp-1", "long-poll-body");
    petrel_send_result_t res;
    assert_int_equal(petrel_producer_send(p, m, &res), PETREL_OK);
    petrel_msg_destroy(m);
    int64_t t0 = tu_now_ms();
    pthread_join(th, NULL);
    int64_t waited = tu_now_ms() - t0;
    assert_int_equal(t.rc, PETREL_OK);
    assert_int_equal(t.n, 1);
    size_t len;
    const char *body = petrel_msg_body(t.msgs[0], &len);
    assert_int_equal(len, strlen("long-poll-body"));
    assert_memory_equal(body, "long-poll-body", len);
    assert_string_equal(petrel_msg_id(t.msgs[0]), res.msg_id);
    petrel_msg_destroy(t.msgs[0]);
    assert_true(waited < 30000); /* answered by the message, not by the timeout */
    assert_true(TU_WAIT_FOR(held_pulls() == 0, 10000));

    /* Nothing to read: the poll comes back empty once its time is up. */
    size_t n = 99;
    petrel_msg_t *batch[8];
    assert_int_equal(petrel_pull_consumer_poll(pc, 300, batch, 8, &n), PETREL_OK);
    assert_int_equal(n, 0);
    /* A second message is read by the next poll (position moved past the first only). */
    m = mk("GapTopicL", "lp-2", "second-body");
    assert_int_equal(petrel_producer_send(p, m, &res), PETREL_OK);
    petrel_msg_destroy(m);
    n = 0;
    assert_int_equal(petrel_pull_consumer_poll(pc, 10000, batch, 8, &n), PETREL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(petrel_msg_keys(batch[0]), "lp-2");
    petrel_msg_destroy(batch[0]);
    petrel_producer_destroy(p);
    petrel_pull_consumer_destroy(pc); /* with a long poll possibly still held */
}

static int pick_arg(int n, const petrel_msg_t *m, void *arg) {
    return *(int *)arg % n;
}

static void send_to(petrel_producer_t *p, const char *topic, int q, const char *key) {
    petrel_msg_t *m = mk(topic, key, key);
    petrel_send_result_t r;
    assert_int_equal(petrel_producer_send_select(p, m, pick_arg, &q, &r), PETREL_OK);
    assert_int_equal(r.mq.queue_id, q);
    petrel_msg_destroy(m);
}

/* A seek while the broker still holds a long poll of that queue takes effect at once. */
static void test_pull_seek_while_held(void **state) {
    assert_true(TU_WAIT_FOR(held_pulls() == 0, 10000));
    create_topic("GapTopicS", 2);
    petrel_producer_t *p = producer("GapPG");
    petrel_conf_t *c = conf_for("GapCGS");
    petrel_pull_consumer_t *pc = NULL;
    assert_int_equal(petrel_pull_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_pull_consumer_start(pc), PETREL_OK);
    petrel_mq_t *mqs = NULL;
    size_t nq = 0;
    assert_int_equal(petrel_pull_consumer_fetch_queues(pc, "GapTopicS", &mqs, &nq), PETREL_OK);
    assert_int_equal(nq, 2);
    assert_int_equal(mqs[1].queue_id, 1);
    assert_int_equal(petrel_pull_consumer_assign(pc, mqs, nq), PETREL_OK);

    send_to(p, "GapTopicS", 1, "s1-a");
    petrel_msg_t *batch[8];
    size_t n = 0;
    assert_int_equal(petrel_pull_consumer_poll(pc, 10000, batch, 8, &n), PETREL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(petrel_msg_keys(batch[0]), "s1-a");
    petrel_msg_destroy(batch[0]);

    /* Both queues are held; a message on queue 0 answers, queue 1 stays held. */
    poller_t t = {pc, 30000, -1, 0, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, poll_thread, &t), 0);
    assert_true(TU_WAIT_FOR(held_pulls() == 2, 10000));
    send_to(p, "GapTopicS", 0, "s0-a");
    pthread_join(th, NULL);
    assert_int_equal(t.rc, PETREL_OK);
    assert_int_equal(t.n, 1);
    assert_string_equal(petrel_msg_keys(t.msgs[0]), "s0-a");
    petrel_msg_destroy(t.msgs[0]);
    assert_true(TU_WAIT_FOR(held_pulls() == 1, 10000));

    /* Back to the start of queue 1: read again now, not when the held pull times out. */
    assert_int_equal(petrel_pull_consumer_seek(pc, &mqs[1], 0), PETREL_OK);
    n = 0;
    assert_int_equal(petrel_pull_consumer_poll(pc, 10000, batch, 8, &n), PETREL_OK);
    assert_int_equal(n, 1);
    assert_string_equal(petrel_msg_keys(batch[0]), "s1-a");
    petrel_msg_destroy(batch[0]);
    free(mqs);
    petrel_pull_consumer_destroy(pc);
    petrel_producer_destroy(p);
}

/* ---- orderly dead letters ---------------------------------------------------------- */

typedef struct ord_s {
    pthread_mutex_t mu;
    int bad_calls, good;
    int bad_reconsume[8];
    char order[8][16];
} ord_t;

static petrel_consume_status_t on_orderly(petrel_push_consumer_t *c, const petrel_msg_t *m,
                                          void *opaque) {
    ord_t *o = opaque;
    const char *k = petrel_msg_keys(m);
    pthread_mutex_lock(&o->mu);
    petrel_consume_status_t st = PETREL_CONSUME_SUCCESS;
    if (k && strcmp(k, "poison") == 0) {
        if (o->bad_calls < 8) o->bad_reconsume[o->bad_calls] = petrel_msg_reconsume_times(m);
        o->bad_calls++;
        st = PETREL_RECONSUME_LATER;
    } else {
        if (o->good < 8) snprintf(o->order[o->good], 16, "%s", k ? k : "");
        o->good++;
    }
    pthread_mutex_unlock(&o->mu);
    return st;
}

static int dlq_has(const char *topic, const char *key, const char *body) {
    const char *ext[] = {"topic",
                         topic,
                         "key",
                         key,
                         "maxNum",
                         "32",
                         "beginTimestamp",
                         "0",
                         "endTimestamp",
                         "9223372036854775807",
                         NULL};
    rm_response_t *r = NULL;
    if (tu_admin_call(P.br_addr, QUERY_MESSAGE, ext, &r) != 0) return 0;
    int ok = r->cmd.code == SUCCESS && r->cmd.body &&
             memmem(r->cmd.body, r->cmd.body_len, body, strlen(body)) != NULL;
    rm_response_free(r);
    return ok;
}

static void test_orderly_dlq(void **state) {
    create_topic("GapTopicO", 1);
    petrel_producer_t *p = producer("GapPG");
    const char *keys[] = {"ok-1", "poison", "ok-2", "ok-3"};
    for (int i = 0; i < 4; i++) {
        petrel_msg_t *m = mk("GapTopicO", keys[i], keys[i]);
        petrel_send_result_t r;
        assert_int_equal(petrel_producer_send_orderly(p, m, "one-key", &r), PETREL_OK);
        petrel_msg_destroy(m);
    }
    ord_t o;
    memset(&o, 0, sizeof(o));
    pthread_mutex_init(&o.mu, NULL);
    petrel_conf_t *c = conf_for("GapCGO");
    assert_int_equal(petrel_conf_set(c, "maxReconsumeTimes", "2", NULL, 0), PETREL_OK);
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_push_consumer_subscribe(pc, "GapTopicO", "*"), PETREL_OK);
    assert_int_equal(petrel_push_consumer_set_orderly_listener(pc, on_orderly, &o), PETREL_OK);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    assert_true(TU_WAIT_FOR(({
                                pthread_mutex_lock(&o.mu);
                                int g = o.good;
                                pthread_mutex_unlock(&o.mu);
                                g == 3;
                            }),
                            30000));
    pthread_mutex_lock(&o.mu);
    /* First delivery + maxReconsumeTimes (2) local retries, then the dead-letter queue. */
    assert_int_equal(o.bad_calls, 3);
    for (int i = 0; i < 3; i++)
        assert_int_equal(o.bad_reconsume[i], i);
    assert_string_equal(o.order[0], "ok-1");
    assert_string_equal(o.order[1], "ok-2");
    assert_string_equal(o.order[2], "ok-3");
    pthread_mutex_unlock(&o.mu);
    assert_true(TU_WAIT_FOR(dlq_has("%DLQ%GapCGO", "poison", "poison"), 10000));
    /* Consumption moved on: the group's committed offset reaches the end of the queue. */
    petrel_push_consumer_destroy(pc);
    char q[] = "0";
    const char *ext[] = {"consumerGroup", "GapCGO", "topic", "GapTopicO", "queueId", q, NULL};
    rm_response_t *r = NULL;
    assert_int_equal(tu_admin_call(P.br_addr, QUERY_CONSUMER_OFFSET, ext, &r), 0);
    assert_int_equal(r->cmd.code, SUCCESS);
    int64_t off = -1;
    assert_int_equal(rm_ext_i64(&r->cmd, "offset", &off), 0);
    assert_int_equal(off, 4);
    rm_response_free(r);
    assert_int_equal(o.bad_calls, 3);
    petrel_producer_destroy(p);
}

int main(void) {
    if (setup(NULL) != 0) {
        fprintf(stderr, "FAILED: could not start petrel namesrv + broker (logs in %s)\n", P.dir);
        tu_pair_kill(&P);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_batch_ids),
        cmocka_unit_test(test_pull_long_poll),
        cmocka_unit_test(test_pull_seek_while_held),
        cmocka_unit_test(test_orderly_dlq),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
