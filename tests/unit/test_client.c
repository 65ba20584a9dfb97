/*
 * test_client: libpetrel's pure parts: errors, configuration, messages,
 * properties and stored-record decoding, ids, compression, batch encoding,
 * route parsing and queue lists, allocation strategies, subscriptions and the
 * broadcasting offsets file.
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

#include "client/client_int.h"
#include "common/util.h"
#include "../testutil.h"

static void test_errors(void **state) {
    assert_string_equal(petrel_strerror(PETREL_OK), "success");
    assert_string_equal(petrel_strerror(PETREL_SYSTEM_BUSY), "broker: system busy");
    assert_string_equal(petrel_err_name(PETREL_TOPIC_NOT_EXIST), "PETREL_TOPIC_NOT_EXIST");
    assert_int_equal(PETREL_TOPIC_NOT_EXIST, 17);
    assert_int_equal(PETREL_ETIMEOUT, RM_ETIMEOUT);
    assert_int_equal(PETREL_ESHUTDOWN, RM_ESHUTDOWN);
    assert_true(petrel_err_is_retriable(PETREL_ETIMEOUT));
    assert_false(petrel_err_is_retriable(PETREL_EINVAL));
    assert_string_equal(petrel_err_name(12345), "PETREL_UNKNOWN");
    assert_non_null(petrel_strerror(-777));
}

static void test_conf(void **state) {
    petrel_conf_t *c = petrel_conf_new();
    char buf[128], err[256];
    assert_int_equal(petrel_conf_get(c, "retryTimesWhenSendFailed", buf, sizeof(buf)), PETREL_OK);
    assert_string_equal(buf, "2");
    assert_int_equal(petrel_conf_set(c, "messageModel", "broadcasting", err, sizeof(err)),
                     PETREL_OK);
    assert_int_equal(c->messageModel, PETREL__BROADCASTING);
    assert_int_equal(petrel_conf_set(c, "nope", "1", err, sizeof(err)), PETREL_ECONFIG);
    assert_non_null(strstr(err, "nope"));
    assert_int_equal(petrel_conf_set(c, "pullBatchSize", "abc", err, sizeof(err)), PETREL_ECONFIG);
    assert_int_equal(petrel_conf_set(c, "namesrvAddr", "127.0.0.1:9876", NULL, 0), PETREL_OK);
    petrel_conf_t *d = petrel_conf_dup(c);
    petrel_conf_destroy(c);
    assert_string_equal(d->namesrvAddr, "127.0.0.1:9876");
    assert_int_equal(d->messageModel, PETREL__BROADCASTING);
    petrel_conf_destroy(d);
    petrel_conf_destroy(NULL);
}

static void test_msg(void **state) {
    assert_null(petrel_msg_new(""));
    petrel_msg_t *m = petrel_msg_new("T");
    assert_int_equal(petrel_msg_set_tags(m, "TagA"), PETREL_OK);
    assert_int_equal(petrel_msg_set_keys(m, "k1 k2"), PETREL_OK);
    assert_int_equal(petrel_msg_set_property(m, "color", "red"), PETREL_OK);
    assert_int_equal(petrel_msg_set_property(m, "color", "blue"), PETREL_OK);
    assert_int_equal(petrel_msg_set_property(m, "bad\001", "x"), PETREL_EINVAL);
    assert_int_equal(petrel_msg_set_delay_level(m, 3), PETREL_OK);
    assert_int_equal(petrel_msg_set_delay_level(m, 19), PETREL_EINVAL);
    assert_int_equal(petrel_msg_set_body(m, "hello", 5), PETREL_OK);
    assert_string_equal(petrel_msg_tags(m), "TagA");
    assert_string_equal(petrel_msg_keys(m), "k1 k2");
    assert_string_equal(petrel_msg_property(m, "color"), "blue");
    assert_int_equal(petrel_msg_delay_level(m), 3);
    assert_int_equal(petrel_msg_property_count(m), 4);
    size_t len;
    assert_memory_equal(petrel_msg_body(m, &len), "hello", 5);
    assert_int_equal(len, 5);
    petrel_msg_t *d = petrel_msg_dup(m);
    assert_int_equal(petrel_msg_set_property(m, "color", NULL), PETREL_OK);
    assert_null(petrel_msg_property(m, "color"));
    assert_string_equal(petrel_msg_property(d, "color"), "blue");
    buf_t b;
    buf_init(&b);
    petrel__props_encode(d, &b);
    assert_int_equal(b.len,
                     strlen("TAGS\001TagA\002KEYS\001k1 k2\002color\001blue\002DELAY\0013\002"));
    assert_memory_equal(b.data, "TAGS\001TagA\002KEYS\001k1 k2\002color\001blue\002DELAY\0013\002",
                        b.len);
    buf_free(&b);
    petrel_msg_destroy(m);
    petrel_msg_destroy(d);
    petrel_msg_destroy(NULL);
}

/* Builds a stored record (storage-and-semantics 1.1, IPv4, V1). */
static void make_record(buf_t *b, const char *topic, const char *props, const void *body,
                        size_t blen, int32_t sys, int64_t qoff, int64_t phys) {
    size_t tl = strlen(topic), pl = strlen(props);
    buf_put_be32(b, (uint32_t)(91 + blen + tl + pl));
    buf_put_be32(b, 0xDAA320A7u);
    buf_put_be32(b, 0);
    buf_put_be32(b, 3); /* queue id */
    buf_put_be32(b, 7); /* flag */
    buf_put_be64(b, (uint64_t)qoff);
    buf_put_be64(b, (uint64_t)phys);
    buf_put_be32(b, (uint32_t)sys);
    buf_put_be64(b, 1700000000000ull);
    uint8_t born[8] = {10, 0, 0, 5, 0, 0, 0x30, 0x39};
    buf_append(b, born, 8);
    buf_put_be64(b, 1700000000123ull);
    uint8_t store[8] = {192, 168, 0, 10, 0, 0, 0x2A, 0x9F};
    buf_append(b, store, 8);
    buf_put_be32(b, 2); /* reconsume */
    buf_put_be64(b, 0);
    buf_put_be32(b, (uint32_t)blen);
    buf_append(b, body, blen);
    buf_put_u8(b, (uint8_t)tl);
    buf_append(b, topic, tl);
    buf_put_be16(b, (uint16_t)pl);
    buf_append(b, props, pl);
}

static void test_record_decode(void **state) {
    buf_t b;
    buf_init(&b);
    make_record(&b, "TopicTest", "TAGS\001A\002UNIQ_KEY\001ABCDEF\002junk\002", "body!", 5, 0, 42,
                3000);
    uint8_t big[10000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i % 7);
    uint8_t *z;
    size_t zn;
    assert_int_equal(petrel__zlib_compress(big, sizeof(big), &z, &zn), 0);
    make_record(&b, "T2", "", z, zn, 0x301, 43, 4000);
    free(z);
    petrel_msg_t *m = NULL;
    size_t used = 0;
    assert_int_equal(petrel__record_decode(b.data, b.len, "broker-a", &m, &used), PETREL_OK);
    assert_string_equal(petrel_msg_topic(m), "TopicTest");
    assert_string_equal(petrel_msg_tags(m), "A");
    assert_string_equal(petrel_msg_id(m), "ABCDEF");
    assert_string_equal(petrel_msg_offset_id(m), "C0A8000A00002A9F0000000000000BB8");
    assert_int_equal(petrel_msg_property_count(m), 2);
    assert_int_equal(petrel_msg_queue_id(m), 3);
    assert_int_equal(petrel_msg_flag(m), 7);
    assert_int_equal(petrel_msg_queue_offset(m), 42);
    assert_int_equal(petrel_msg_reconsume_times(m), 2);
    assert_int_equal(petrel_msg_store_timestamp(m), 1700000000123ll);
    assert_string_equal(petrel_msg_born_host(m), "10.0.0.5:12345");
    assert_string_equal(petrel_msg_store_host(m), "192.168.0.10:10911");
    assert_string_equal(petrel_msg_broker_name(m), "broker-a");
    size_t len;
    assert_memory_equal(petrel_msg_body(m, &len), "body!", 5);
    assert_int_equal(petrel_msg_set_tags(m, "x"), PETREL_EINVAL);
    petrel_msg_t *d = petrel_msg_dup(m);
    assert_string_equal(petrel_msg_offset_id(d), petrel_msg_offset_id(m));
    assert_int_equal(petrel_msg_set_tags(d, "x"), PETREL_OK);
    petrel_msg_destroy(d);
    petrel_msg_destroy(m);
    size_t off = used;
    assert_int_equal(petrel__record_decode(b.data + off, b.len - off, NULL, &m, &used), PETREL_OK);
    const void *body = petrel_msg_body(m, &len);
    assert_int_equal(len, sizeof(big));
    assert_memory_equal(body, big, sizeof(big));
    assert_int_equal(petrel_msg_property_count(m), 0);
    petrel_msg_destroy(m);
    /* Truncated and corrupted input is rejected, never read past. */
    for (size_t cut = 0; cut < off; cut += 7)
        assert_int_equal(petrel__record_decode(b.data, cut, NULL, &m, &used), PETREL_EPROTO);
    b.data[4] ^= 0xFF;
    assert_int_equal(petrel__record_decode(b.data, b.len, NULL, &m, &used), PETREL_EPROTO);
    buf_free(&b);
}

/* A pull answer's messages share one block that lives until the last one is destroyed. */
static void test_record_slab(void **state) {
    buf_t b;
    buf_init(&b);
    uint8_t big[6000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (uint8_t)(i % 11);
    uint8_t *z;
    size_t zn;
    assert_int_equal(petrel__zlib_compress(big, sizeof(big), &z, &zn), 0);
    char body[5][16];
    for (int i = 0; i < 5; i++) {
        snprintf(body[i], sizeof(body[i]), "slab-body-%d", i);
        if (i == 2)
            make_record(&b, "TopicS", "TAGS\001B\002", z, zn, 0x301, 10 + i, 100 * i);
        else
            make_record(&b, "TopicS", "TAGS\001A\002KEYS\001k\002", body[i], strlen(body[i]), 0,
                        10 + i, 100 * i);
    }
    free(z);
    petrel__slab_cur_t sc;
    petrel__slab_open(&sc, b.data, b.len);
    assert_non_null(sc.slab);
    petrel_msg_t *m[5];
    size_t pos = 0, used;
    for (int i = 0; i < 5; i++) {
        assert_int_equal(
            petrel__record_decode_in(&sc, b.data + pos, b.len - pos, "broker-s", &m[i], &used),
            PETREL_OK);
        pos += used;
    }
    assert_int_equal(pos, b.len);
    assert_true(sc.cur == sc.end); /* every message in the block, none apart */
    petrel__slab_close(&sc);
    buf_free(&b); /* the messages own copies */
    petrel_msg_t *keep = petrel_msg_dup(m[3]);
    int order[5] = {3, 0, 4, 2, 1};
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < 5; i++) { /* the others are intact while some are gone */
            int gone = 0;
            for (int j = 0; j < k; j++)
                gone |= order[j] == i;
            if (gone) continue;
            size_t len;
            const void *bd = petrel_msg_body(m[i], &len);
            assert_int_equal(petrel_msg_queue_offset(m[i]), 10 + i);
            if (i == 2) {
                assert_int_equal(len, sizeof(big));
                assert_memory_equal(bd, big, len);
                assert_string_equal(petrel_msg_tags(m[i]), "B");
            } else {
                assert_int_equal(len, strlen(body[i]));
                assert_memory_equal(bd, body[i], len);
                assert_string_equal(petrel_msg_keys(m[i]), "k");
            }
        }
        petrel_msg_destroy(m[order[k]]);
    }
    size_t len;
    assert_memory_equal(petrel_msg_body(keep, &len), "slab-body-3", 11);
    petrel_msg_destroy(keep);
    /* One record, or garbage: no block, messages are allocated on their own. */
    petrel__slab_open(&sc, (const uint8_t *)"junk", 4);
    assert_null(sc.slab);
    petrel__slab_close(&sc);
}

static void test_ids(void **state) {
    char a[33], b2[33];
    petrel__uniq_id(a);
    petrel__uniq_id(b2);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b2);
    for (int i = 0; i < 32; i++)
        assert_true(strchr("0123456789ABCDEF", a[i]) != NULL);
    assert_memory_equal(a, b2, 20); /* ip, pid, random: fixed per process */
    uint8_t ip[4] = {192, 168, 0, 10};
    char id[33], addr[64];
    petrel__offset_msg_id(ip, 10911, 3000, id);
    assert_string_equal(id, "C0A8000A00002A9F0000000000000BB8");
    int64_t off;
    assert_int_equal(
        petrel__decode_offset_msg_id("c0a8000a00002a9f0000000000000bb8", addr, sizeof(addr), &off),
        0);
    assert_string_equal(addr, "192.168.0.10:10911");
    assert_int_equal(off, 3000);
    assert_int_equal(petrel__decode_offset_msg_id("XYZ", addr, sizeof(addr), &off), -1);
}

static void test_batch(void **state) {
    petrel_msg_t *m = petrel_msg_new("T");
    petrel_msg_set_body(m, "abc", 3);
    petrel_msg_set_flag(m, 9);
    buf_t b;
    buf_init(&b);
    petrel__batch_put(&b, m, (const uint8_t *)"K\001V\002", 4);
    assert_int_equal(b.len, 22 + 3 + 4);
    assert_int_equal(be32_get(b.data), 29);
    assert_int_equal(be32_get(b.data + 4), 0);
    assert_int_equal(be32_get(b.data + 12), 9);
    assert_int_equal(be32_get(b.data + 16), 3);
    assert_memory_equal(b.data + 20, "abc", 3);
    assert_int_equal(be16_get(b.data + 23), 4);
    buf_free(&b);
    petrel_msg_destroy(m);
}

static const char *ROUTE =
    "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:\"127.0.0.1:10921\"},"
    "\"brokerName\":\"broker-b\",\"cluster\":\"C\"},"
    "{\"brokerAddrs\":{\"0\":\"127.0.0.1:20911\"},\"brokerName\":\"broker-a\",\"cluster\":\"C\"},"
    "{\"brokerAddrs\":{\"1\":\"127.0.0.1:30921\"},\"brokerName\":\"broker-c\",\"cluster\":\"C\"}],"
    "\"filterServerTable\":{},\"queueDatas\":["
    "{\"brokerName\":\"broker-b\",\"perm\":6,\"readQueueNums\":2,\"writeQueueNums\":2},"
    "{\"brokerName\":\"broker-a\",\"perm\":4,\"readQueueNums\":3,\"writeQueueNums\":3},"
    "{\"brokerName\":\"broker-c\",\"perm\":6,\"readQueueNums\":1,\"writeQueueNums\":1}]}";

static void test_route(void **state) {
    char *q = json_quote_int_keys("{0:\"a\", \"x\":{12 :\"{3:4}\"}}", 27);
    assert_string_equal(q, "{\"0\":\"a\", \"x\":{\"12\" :\"{3:4}\"}}");
    free(q);
    petrel__route_t *r = petrel__route_parse(ROUTE, strlen(ROUTE));
    assert_non_null(r);
    assert_int_equal(r->nb, 3);
    assert_string_equal(petrel__route_master(r, "broker-b"), "127.0.0.1:10911");
    assert_null(petrel__route_master(r, "broker-c"));
    petrel_mq_t *mqs = NULL;
    /* Writable: broker-a lacks WRITE, broker-c lacks a master. */
    int n = petrel__route_queues(r, "T", 1, &mqs);
    assert_int_equal(n, 2);
    assert_string_equal(mqs[0].broker_name, "broker-b");
    free(mqs);
    n = petrel__route_queues(r, "T", 0, &mqs);
    assert_int_equal(n, 6);
    assert_string_equal(mqs[0].broker_name, "broker-a");
    assert_int_equal(mqs[2].queue_id, 2);
    assert_string_equal(mqs[5].broker_name, "broker-c");
    free(mqs);
    petrel__route_release(r);
    const char *oc = "{\"brokerDatas\":[],\"queueDatas\":[],\"orderTopicConf\":\"b1:2;b0:1\"}";
    r = petrel__route_parse(oc, strlen(oc));
    n = petrel__route_queues(r, "T", 1, &mqs);
    assert_int_equal(n, 3);
    assert_string_equal(mqs[0].broker_name, "b0");
    free(mqs);
    petrel__route_release(r);
    assert_null(petrel__route_parse("{not json", 9));
}

static petrel_mq_t *mk_mqs(int n) {
    petrel_mq_t *v = calloc((size_t)n, sizeof(*v));
    for (int i = 0; i < n; i++) {
        strcpy(v[i].topic, "T");
        snprintf(v[i].broker_name, sizeof(v[i].broker_name), "b%d", i / 4);
        v[i].queue_id = i % 4;
    }
    return v;
}

/* Every strategy must give each queue to exactly one consumer. */
static void check_partition(int strategy, int n, int c) {
    petrel_mq_t *mqs = mk_mqs(n);
    char *cids[16];
    for (int i = 0; i < c; i++) {
        cids[i] = malloc(16);
        snprintf(cids[i], 16, "c%02d", i);
    }
    int *owner = calloc((size_t)n, sizeof(int)), out[64];
    for (int i = 0; i < c; i++) {
        int k = petrel__allocate(strategy, mqs, n, cids, c, cids[i], out);
        for (int j = 0; j < k; j++)
            owner[out[j]]++;
    }
    for (int j = 0; j < n; j++)
        assert_int_equal(owner[j], 1);
    assert_int_equal(petrel__allocate(strategy, mqs, n, cids, c, "stranger", out), 0);
    for (int i = 0; i < c; i++)
        free(cids[i]);
    free(owner);
    free(mqs);
}

static void test_allocate(void **state) {
    for (int s = 0; s < 3; s++)
        for (int n = 1; n <= 12; n++)
            for (int c = 1; c <= 5; c++)
                check_partition(s, n, c);
    /* AVG on 8 queues, 3 consumers: 3,3,2 in order (Java's example). */
    petrel_mq_t *mqs = mk_mqs(8);
    char *cids[3] = {"a", "b", "c"};
    int out[8];
    assert_int_equal(petrel__allocate(PETREL__ALLOC_AVG, mqs, 8, cids, 3, "a", out), 3);
    assert_int_equal(out[0], 0);
    assert_int_equal(petrel__allocate(PETREL__ALLOC_AVG, mqs, 8, cids, 3, "b", out), 3);
    assert_int_equal(out[0], 3);
    assert_int_equal(petrel__allocate(PETREL__ALLOC_AVG, mqs, 8, cids, 3, "c", out), 2);
    assert_int_equal(out[0], 6);
    assert_int_equal(petrel__allocate(PETREL__ALLOC_AVG_BY_CIRCLE, mqs, 8, cids, 3, "b", out), 3);
    assert_int_equal(out[1], 4);
    /* 2 queues, 3 consumers: the third gets nothing. */
    assert_int_equal(petrel__allocate(PETREL__ALLOC_AVG, mqs, 2, cids, 3, "c", out), 0);
    free(mqs);
}

static void md5_hex(const char *in, size_t n, char out[33]) {
    uint8_t d[16];
    petrel__md5(in, n, d);
    for (int i = 0; i < 16; i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* The consistent-hash strategy places queues exactly as Java's
 * AllocateMessageQueueConsistentHash (expected owners computed with the JDK's MD5 + TreeMap). */
static void test_consistent_hash_java(void **state) {
    char h[33];
    md5_hex("", 0, h);
    assert_string_equal(h, "d41d8cd98f00b204e9800998ecf8427e");
    md5_hex("abc", 3, h);
    assert_string_equal(h, "900150983cd24fb0d6963f7d28e17f72");
    const char *fox = "The quick brown fox jumps over the lazy dog";
    md5_hex(fox, strlen(fox), h);
    assert_string_equal(h, "9e107d9d372bb6826bd81d3542a419d6");
    char long_in[200];
    memset(long_in, 'a', sizeof(long_in));
    md5_hex(long_in, 56, h); /* padding spills into a second block */
    assert_string_equal(h, "3b0c8ac703f828b04c6c197006d17218");
    petrel_mq_t *mqs = mk_mqs(12);
    char *cids[3] = {"10.0.0.1@a", "10.0.0.2@b", "10.0.0.3@c"};
    const char *java = "022221021022";
    for (int c = 0; c < 3; c++) {
        int out[12];
        int k = petrel__allocate(PETREL__ALLOC_CONSISTENT_HASH, mqs, 12, cids, 3, cids[c], out);
        for (int i = 0; i < k; i++)
            assert_int_equal(java[out[i]] - '0', c);
        int want = 0;
        for (int j = 0; j < 12; j++)
            want += java[j] - '0' == c;
        assert_int_equal(k, want);
    }
    free(mqs);
}

static void test_sub(void **state) {
    petrel__sub_t s;
    assert_int_equal(petrel__sub_init(&s, "T", " A || B ||"), PETREL_OK);
    assert_int_equal(s.n_tags, 2);
    assert_true(petrel__sub_match(&s, "B"));
    assert_false(petrel__sub_match(&s, "C"));
    assert_false(petrel__sub_match(&s, NULL));
    buf_t b;
    buf_init(&b);
    petrel__sub_json(&b, &s);
    buf_put_u8(&b, 0);
    assert_non_null(strstr((char *)b.data, "\"codeSet\":[65,66]"));
    assert_non_null(strstr((char *)b.data, "\"tagsSet\":[\"A\",\"B\"]"));
    buf_free(&b);
    petrel__sub_free(&s);
    assert_int_equal(petrel__sub_init(&s, "T", NULL), PETREL_OK);
    assert_true(petrel__sub_match(&s, NULL));
    petrel__sub_free(&s);
}

static void test_offtab(void **state) {
    char *dir = tu_tmpdir("petrel-offtab");
    char path[600];
    snprintf(path, sizeof(path), "%s/x/y/offsets.json", dir);
    petrel__offtab_t t = {0}, u = {0};
    assert_int_equal(petrel__offtab_load(&t, path), PETREL_OK);
    assert_int_equal(t.n, 0);
    petrel_mq_t mq = {"T\"q", "b", 1};
    petrel__offtab_set(&t, &mq, 17);
    mq.queue_id = 2;
    petrel__offtab_set(&t, &mq, 5000000000ll);
    petrel__offtab_set(&t, &mq, 5000000001ll);
    assert_int_equal(petrel__offtab_save(&t, path), PETREL_OK);
    assert_int_equal(petrel__offtab_load(&u, path), PETREL_OK);
    assert_int_equal(u.n, 2);
    assert_int_equal(petrel__offtab_get(&u, &mq), 5000000001ll);
    mq.queue_id = 1;
    assert_int_equal(petrel__offtab_get(&u, &mq), 17);
    mq.queue_id = 9;
    assert_int_equal(petrel__offtab_get(&u, &mq), -1);
    petrel__offtab_free(&t);
    petrel__offtab_free(&u);
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),      cmocka_unit_test(test_conf),
        cmocka_unit_test(test_msg),         cmocka_unit_test(test_record_decode),
        cmocka_unit_test(test_record_slab), cmocka_unit_test(test_ids),
        cmocka_unit_test(test_batch),       cmocka_unit_test(test_route),
        cmocka_unit_test(test_allocate),    cmocka_unit_test(test_consistent_hash_java),
        cmocka_unit_test(test_sub),         cmocka_unit_test(test_offtab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
