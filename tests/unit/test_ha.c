/*
 * Unit tests for replication's store side: store_append_raw fed in odd-sized
 * pieces (records split across frames, blank fillers at file ends) rebuilds
 * the same consume queues and identical bytes; a slave refuses store_put;
 * store_truncate cuts an unreplicated tail and the store appends after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"
#include "../testutil.h"

#define SEG (64 * 1024)

static store_t *open_store(const char *dir) {
    store_config_t c;
    store_config_init(&c);
    free(c.storePathRootDir);
    c.storePathRootDir = xstrdup(dir);
    c.mappedFileSizeCommitLog = SEG;
    c.mappedFileSizeConsumeQueue = 20 * 100;
    c.maxHashSlotNum = 64;
    c.maxIndexNum = 500;
    c.start_clean_thread = 0;
    char err[512] = "";
    store_t *s = NULL;
    int rc = store_open(&c, &s, err, sizeof(err));
    if (rc != 0) fprintf(stderr, "store_open: %s\n", err);
    assert_int_equal(rc, 0);
    store_config_free(&c);
    return s;
}

static int put(store_t *s, int qid, int i, store_put_result_t *r) {
    char body[1200];
    int len = snprintf(body, sizeof(body), "message %d ", i);
    memset(body + len, 'a' + i % 26, (size_t)(i * 37 % 1000));
    len += i * 37 % 1000;
    store_msg_t m = {0};
    m.topic = "TopicHA";
    m.topic_len = 7;
    m.queue_id = qid;
    m.born_ts = now_ms();
    m.body = body;
    m.body_len = (uint32_t)len;
    return store_put(s, &m, r);
}

/* Copies master bytes [from, to) into the slave in pieces of `piece` bytes. */
static void replicate(store_t *m, store_t *sl, int64_t from, int64_t to, uint32_t piece) {
    while (from < to) {
        store_pinned_t p;
        assert_int_equal(store_read_raw(m, from, piece, &p), 0);
        assert_int_equal(store_append_raw(sl, from, p.data, p.len), 0);
        from += p.len;
        store_pinned_release(&p);
    }
}

static void test_append_raw(void **state) {
    (void)state;
    char *dm = tu_tmpdir("ha-master"), *ds = tu_tmpdir("ha-slave");
    store_t *m = open_store(dm), *sl = open_store(ds);
    store_set_slave(sl, 1);
    store_put_result_t r;
    for (int i = 0; i < 400; i++) assert_int_equal(put(m, i % 3, i, &r), STORE_PUT_OK);
    int64_t end = store_commitlog_max_offset(m);
    assert_true(end > 3 * SEG); /* several files, blank fillers */
    replicate(m, sl, 0, end, 777); /* pieces that split records */
    assert_int_equal(store_commitlog_max_offset(sl), end);
    assert_int_equal(store_whole_end(sl), end);
    for (int q = 0; q < 3; q++) {
        /* the slave's dispatcher builds its consume queues */
        assert_true(TU_WAIT_FOR(store_max_offset(sl, "TopicHA", q) ==
                                    store_max_offset(m, "TopicHA", q), 10000));
        for (int64_t o = 0; o < store_max_offset(m, "TopicHA", q); o++) {
            int64_t p1, p2, t1, t2;
            int32_t z1, z2;
            assert_int_equal(store_cq_entry(m, "TopicHA", q, o, &p1, &z1, &t1), 0);
            assert_int_equal(store_cq_entry(sl, "TopicHA", q, o, &p2, &z2, &t2), 0);
            assert_true(p1 == p2 && z1 == z2 && t1 == t2);
            store_pinned_t a, b;
            assert_int_equal(store_read_at(m, p1, &a), 0);
            assert_int_equal(store_read_at(sl, p2, &b), 0);
            assert_int_equal(a.len, b.len);
            assert_memory_equal(a.data, b.data, a.len);
            store_pinned_release(&a);
            store_pinned_release(&b);
        }
    }
    /* wrong offset, and puts on a slave, are refused */
    static const uint8_t x[8] = {0};
    assert_int_not_equal(store_append_raw(sl, end + 8, x, 8), 0);
    assert_int_equal(put(sl, 0, 1, &r), STORE_SERVICE_NOT_AVAILABLE);
    /* a partial record is dropped when the slave is promoted */
    assert_int_equal(put(m, 0, 500, &r), STORE_PUT_OK);
    store_pinned_t p;
    assert_int_equal(store_read_raw(m, end, 100, &p), 0);
    assert_int_equal(store_append_raw(sl, end, p.data, p.len), 0);
    store_pinned_release(&p);
    assert_int_equal(store_commitlog_max_offset(sl), end + 100);
    assert_int_equal(store_whole_end(sl), end);
    store_set_slave(sl, 0);
    assert_int_equal(store_commitlog_max_offset(sl), end);
    /* a late frame from the old master is refused */
    assert_int_not_equal(store_append_raw(sl, end, x, 8), 0);
    assert_int_equal(put(sl, 0, 501, &r), STORE_PUT_OK);
    assert_int_equal(r.phys_offset, end);
    store_close(m);
    store_close(sl);
    tu_rmrf(dm);
    tu_rmrf(ds);
    free(dm);
    free(ds);
}

static void test_truncate(void **state) {
    (void)state;
    char *d = tu_tmpdir("ha-trunc");
    store_t *s = open_store(d);
    store_put_result_t r;
    int64_t cut = 0, cutq = 0;
    for (int i = 0; i < 600; i++) {
        assert_int_equal(put(s, 0, i, &r), STORE_PUT_OK);
        if (i == 120) {
            cut = r.phys_offset;
            cutq = r.queue_offset;
        }
    }
    assert_true(store_commitlog_max_offset(s) > 2 * SEG + cut);
    assert_int_equal(store_truncate(s, cut), 0);
    assert_int_equal(store_commitlog_max_offset(s), cut);
    assert_int_equal(store_max_offset(s, "TopicHA", 0), cutq);
    int64_t ph;
    int32_t sz;
    int64_t tg;
    assert_int_equal(store_cq_entry(s, "TopicHA", 0, cutq - 1, &ph, &sz, &tg), 0);
    assert_int_not_equal(store_cq_entry(s, "TopicHA", 0, cutq, &ph, &sz, &tg), 0);
    /* the store goes on after the cut */
    assert_int_equal(put(s, 0, 999, &r), STORE_PUT_OK);
    assert_int_equal(r.phys_offset, cut);
    assert_int_equal(r.queue_offset, cutq);
    store_get_result_t g;
    assert_int_equal(store_get(s, "TopicHA", 0, cutq, 4, 0, NULL, NULL, &g), STORE_GET_FOUND);
    assert_int_equal(g.msg_count, 1);
    record_view_t v;
    assert_int_equal(record_decode(g.msgs[0].data, g.msgs[0].len, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_memory_equal(v.body, "message 999 ", 12);
    store_get_release(&g);
    /* and recovers to the same place */
    int64_t end = store_commitlog_max_offset(s);
    store_close(s);
    s = open_store(d);
    assert_int_equal(store_commitlog_max_offset(s), end);
    assert_int_equal(store_max_offset(s, "TopicHA", 0), cutq + 1);
    store_close(s);
    tu_rmrf(d);
    free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_append_raw),
                                       cmocka_unit_test(test_truncate)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
