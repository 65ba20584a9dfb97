/* Unit tests for src/common/record and src/common/msgprops. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/msgprops.h"
#include "common/record.h"
#include "common/util.h"

static int unhex(const char *h, uint8_t *out) {
    int n = 0;
    while (*h) {
        if (*h == ' ' || *h == '\n') {
            h++;
            continue;
        }
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (uint8_t)v;
        h += 2;
    }
    return n;
}

/* storage-and-semantics.md §1.11 worked example, byte for byte. */
static void test_worked_example(void **state) {
    (void)state;
    const char props[] = "TAGS\x01"
                         "A\x02UNIQ_KEY\x01X\x02";
    record_fields_t f = {0};
    f.queue_id = 3;
    f.queue_offset = 7;
    f.phys_offset = 3000;
    f.born_ts = 0x0000018F00000000LL;
    f.born_ip = 0x0a000005;
    f.born_port = 51234;
    f.store_ts = 0x0000018F00000010LL;
    f.store_ip = 0xc0a8000a;
    f.store_port = 10911;
    f.body = "hi";
    f.body_len = 2;
    f.body_crc = record_body_crc("hi", 2);
    f.topic = "T1";
    f.topic_len = 2;
    f.props = props;
    f.props_len = (uint32_t)strlen(props);
    assert_int_equal(f.props_len, 18);
    assert_int_equal(f.body_crc, 0x58932AAC);
    uint8_t buf[256], want[256];
    uint32_t n = record_encode(&f, buf, sizeof(buf));
    assert_int_equal(n, 113);
    int wn = unhex("00000071 DAA320A7 58932AAC 00000003 00000000 0000000000000007 0000000000000BB8"
                   "00000000 0000018F00000000 0A000005 0000C822"
                   "0000018F00000010 C0A8000A 00002A9F 00000000 0000000000000000"
                   "00000002 6869 02 5431 0012 54414753 01 41 02 554E49515F4B4559 01 58 02",
                   want);
    assert_int_equal(wn, 113);
    assert_memory_equal(buf, want, 113);

    record_view_t v;
    assert_int_equal(record_decode(buf, n, &v, RECORD_CHECK_CRC), RECORD_OK);
    assert_int_equal(v.total_size, 113);
    assert_int_equal(v.queue_id, 3);
    assert_int_equal(v.queue_offset, 7);
    assert_int_equal(v.phys_offset, 3000);
    assert_int_equal(v.store_ts, 0x0000018F00000010LL);
    assert_int_equal(v.topic_len, 2);
    assert_memory_equal(v.topic, "T1", 2);
    assert_int_equal(v.body_len, 2);
    assert_int_equal(v.props_len, 18);
    assert_int_equal(record_host_port(v.store_host, v.store_host_len), 10911);

    char id[33];
    record_msgid_encode(f.store_ip, f.store_port, 3000, id);
    assert_string_equal(id, "C0A8000A00002A9F0000000000000BB8");
    char id2[57];
    assert_int_equal(record_msgid_encode_host(v.store_host, v.store_host_len, v.phys_offset, id2),
                     32);
    assert_string_equal(id2, id);
    uint8_t host[20];
    uint32_t hl;
    int64_t off;
    assert_int_equal(record_msgid_decode("c0a8000a00002a9f0000000000000bb8", 32, host, &hl, &off),
                     0);
    assert_int_equal(hl, 8);
    assert_int_equal(off, 3000);
    assert_int_equal(be32_get(host), 0xc0a8000a);
    assert_int_equal(record_msgid_decode("C0A8000A00002A9F0000000000000BBZ", 32, host, &hl, &off),
                     -1);
    assert_int_equal(record_msgid_decode("C0A8", 4, host, &hl, &off), -1);

    /* truncated, corrupt, CRC mismatch, blank */
    assert_int_equal(record_decode(buf, 100, &v, 0), RECORD_TRUNCATED);
    assert_int_equal(record_decode(buf, 3, &v, 0), RECORD_TRUNCATED);
    buf[88] ^= 1; /* body byte */
    assert_int_equal(record_decode(buf, n, &v, 0), RECORD_OK);
    assert_int_equal(record_decode(buf, n, &v, RECORD_CHECK_CRC), RECORD_CORRUPT);
    buf[88] ^= 1;
    buf[5] = 0;
    assert_int_equal(record_decode(buf, n, &v, 0), RECORD_CORRUPT);
    buf[5] = 0xa3;
    be32_put(buf, 114); /* total disagrees with the lengths */
    buf[113] = 0;
    assert_int_equal(record_decode(buf, 200, &v, 0), RECORD_CORRUPT);
    memset(buf, 0, 16);
    assert_int_equal(record_decode(buf, 200, &v, 0), RECORD_CORRUPT); /* zeroed space */
    record_encode_blank(buf, 4096);
    assert_int_equal(record_decode(buf, 200, &v, 0), RECORD_BLANK);
    assert_int_equal(v.total_size, 4096);

    /* limits */
    f.topic_len = 128;
    assert_int_equal(record_encode(&f, buf, sizeof(buf)), 0);
    f.topic_len = 2;
    assert_int_equal(record_encode(&f, buf, 100), 0);
}

static void test_crc(void **state) {
    (void)state;
    assert_int_equal(record_body_crc("123456789", 9), 0x4BF43926);
    assert_int_equal(record_body_crc("", 0), 0);
    /* differential against zlib: every length to 2100, unaligned starts, and 1 MiB */
    size_t big = 1 << 20;
    uint8_t *b = malloc(big + 16);
    for (size_t i = 0; i < big + 16; i++)
        b[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t len = 1; len <= 2100; len++) {
        size_t off = len % 16;
        uint32_t z = (uint32_t)crc32(0, b + off, (uInt)len) & 0x7fffffffu;
        assert_int_equal(record_body_crc(b + off, len), z);
    }
    assert_int_equal(record_body_crc(b + 3, big),
                     (uint32_t)crc32(0, b + 3, (uInt)big) & 0x7fffffffu);
    free(b);
}

static void test_batch(void **state) {
    (void)state;
    uint8_t body[512];
    size_t len = 0;
    record_batch_member_t m = {5, (const uint8_t *)"hello", 5,
                               "UNIQ_KEY\x01"
                               "1\x02",
                               11};
    len += record_batch_encode(&m, body + len, sizeof(body) - len);
    record_batch_member_t m2 = {0, (const uint8_t *)"", 0, "", 0};
    len += record_batch_encode(&m2, body + len, sizeof(body) - len);
    assert_int_equal(len, 22 + 5 + 11 + 22);
    size_t pos = 0;
    record_batch_member_t out;
    assert_int_equal(record_batch_next(body, len, &pos, &out), 1);
    assert_int_equal(out.flag, 5);
    assert_int_equal(out.body_len, 5);
    assert_memory_equal(out.body, "hello", 5);
    assert_int_equal(out.props_len, 11);
    assert_int_equal(record_batch_next(body, len, &pos, &out), 1);
    assert_int_equal(out.body_len, 0);
    assert_int_equal(record_batch_next(body, len, &pos, &out), 0);
    /* malformed: total size too large, then inconsistent body length */
    pos = 0;
    assert_int_equal(record_batch_next(body, len - 1, &pos, &out), 1);
    assert_int_equal(record_batch_next(body, len - 1, &pos, &out), -1);
    be32_put(body + 16, 400);
    pos = 0;
    assert_int_equal(record_batch_next(body, len, &pos, &out), -1);
    pos = 0;
    assert_int_equal(record_batch_next(body, 10, &pos, &out), -1);
}

static void test_msgprops(void **state) {
    (void)state;
    const char p[] = "TAGS\x01TagA\x02KEYS\x01k1 k2\x02\x02"
                     "bad\x02=\x01\x02\x01v\x02UNIQ_KEY\x01U\x02";
    size_t len = sizeof(p) - 1;
    const char *v;
    size_t vl;
    assert_true(msgprops_find(p, len, "TAGS", &v, &vl));
    assert_int_equal(vl, 4);
    assert_memory_equal(v, "TagA", 4);
    assert_true(msgprops_find(p, len, "KEYS", &v, &vl));
    assert_memory_equal(v, "k1 k2", 5);
    assert_true(msgprops_find(p, len, "UNIQ_KEY", &v, &vl));
    assert_false(msgprops_find(p, len, "TAG", &v, &vl));
    assert_false(msgprops_find(p, len, "bad", &v, &vl));
    assert_false(msgprops_find(NULL, 0, "TAGS", &v, &vl));
    msgprops_iter_t it;
    msgprops_iter_init(&it, p, len);
    const char *k;
    size_t kl;
    int n = 0;
    while (msgprops_next(&it, &k, &kl, &v, &vl))
        n++;
    assert_int_equal(n, 3);

    assert_int_equal(msgprops_tags_code(p, len), 2598919); /* "TagA".hashCode() */
    assert_int_equal(msgprops_tags_code("", 0), 0);
    /* "é" is one UTF-16 unit 0xe9; "😀" is the surrogate pair d83d de00 */
    assert_int_equal(java_string_hash("\xc3\xa9", 2), 0xe9);
    assert_int_equal(java_string_hash("\xf0\x9f\x98\x80", 4), (int32_t)(0xd83d * 31 + 0xde00));
    {
        /* two lookups in one pass: first occurrence, empty values skipped, absent keys */
        static const char q[] = "KEYS\x01\x02UNIQ_KEY\x01U1\x02KEYS\x01k1 k2\x02UNIQ_KEY\x01U2";
        const char *a = NULL, *c = NULL;
        size_t al = 0, cl = 0;
        assert_int_equal(msgprops_find2(q, sizeof(q) - 1, "UNIQ_KEY", 8, &a, &al, "KEYS", 4, &c, &cl), 3);
        assert_int_equal(al, 2);
        assert_memory_equal(a, "U1", 2);
        assert_int_equal(cl, 5);
        assert_memory_equal(c, "k1 k2", 5);
        assert_int_equal(msgprops_find2(q, sizeof(q) - 1, "TAGS", 4, &a, &al, "KEYS", 4, &c, &cl), 2);
        assert_int_equal(msgprops_find2(q, 6, "UNIQ_KEY", 8, &a, &al, "KEYS", 4, &c, &cl), 0);
    }
    {
        /* key signature: every key that msgprops_find finds has its bit set */
        static const char q[] = "TAGS\x01TagA\x02UNIQ_KEY\x01" "AB\x02\x02x\x02WAIT\x01\x02" "DELAY\x01" "3";
        uint64_t sig = msgprops_sig(q, sizeof(q) - 1);
        assert_true(MSGPROPS_MAY_HAVE(sig, MSGPROP_TAGS));
        assert_true(MSGPROPS_MAY_HAVE(sig, MSGPROP_UNIQ_KEY));
        assert_true(MSGPROPS_MAY_HAVE(sig, MSGPROP_DELAY));
        assert_false(MSGPROPS_MAY_HAVE(sig, MSGPROP_WAIT)); /* empty value: not a pair */
        assert_false(MSGPROPS_MAY_HAVE(sig, MSGPROP_TRAN_MSG));
        assert_false(MSGPROPS_MAY_HAVE(sig, MSGPROP_TIMER_DELIVER_MS));
        assert_int_equal(msgprops_sig(NULL, 0), 0);
        const char *v;
        size_t vl;
        assert_false(msgprops_find(q, sizeof(q) - 1, MSGPROP_WAIT, &v, &vl));
    }
    /* 8-byte ASCII steps, tails, and a non-ASCII byte after a step (Java String.hashCode) */
    assert_int_equal(java_string_hash("abcdefgh", 8), 1259673732);
    assert_int_equal(java_string_hash("abcdefghi", 9), 395180133);
    assert_int_equal(java_string_hash("BenchTopic#7F0000010B2A1B2C3D4E5F6071829300", 43), -1364653518);
    assert_int_equal(java_string_hash("0123456789abcdef\xc3\xa9xyz01234567", 29), -1650415940);

    buf_t b;
    buf_init(&b);
    msgprops_append(&b, "A", "1");
    msgprops_append_n(&b, "B", 1, "22", 2);
    assert_int_equal(b.len, 4 + 5);
    assert_memory_equal(b.data,
                        "A\x01"
                        "1\x02"
                        "B\x01"
                        "22\x02",
                        9);
    buf_t c;
    buf_init(&c);
    msgprops_copy_without(&c, (const char *)b.data, b.len, "A");
    assert_int_equal(c.len, 5);
    assert_memory_equal(c.data,
                        "B\x01"
                        "22\x02",
                        5);
    char q[] = "A\x01"
               "1\x02"
               "AB\x01"
               "2\x02"
               "A\x01"
               "3\x02";
    size_t ql = msgprops_remove(q, sizeof(q) - 1, "A");
    assert_int_equal(ql, 5);
    assert_memory_equal(q,
                        "AB\x01"
                        "2\x02",
                        5);
    buf_free(&b);
    buf_free(&c);
}

/* The offset half of a message id is the offset as 16 uppercase hex digits, for any offset. */
static void test_msgid_hex(void **state) {
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 20000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int64_t off = i < 64 ? (int64_t)((1ull << i) - 1) : (int64_t)(x >> (i % 40));
        char id[33], want[17];
        record_msgid_encode(0x7f000001, 10911, off, id);
        snprintf(want, sizeof want, "%016llX", (unsigned long long)off);
        assert_int_equal(strlen(id), 32);
        assert_string_equal(id + 16, want);
        assert_memory_equal(id, "7F00000100002A9F", 16);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_msgid_hex),
        cmocka_unit_test(test_worked_example),
        cmocka_unit_test(test_crc),
        cmocka_unit_test(test_batch),
        cmocka_unit_test(test_msgprops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
