/* Unit tests for src/remoting's codec: golden frames written by hand from
 * remoting-protocol.md 1.2/1.4/1.5, round trips, the liberal JSON rules and
 * every malformed case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "common/util.h"
#include "remoting/remoting.h"

static char g_err[256];
static buf_t g_scratch;

/* Builds [L][T<<24|H][hdr][body] in out (test-side framing, not the encoder). */
static size_t frame_of(uint8_t *out, int t, const char *hdr, size_t hlen, const char *body) {
    size_t bl = body ? strlen(body) : 0;
    be32_put(out, (uint32_t)(4 + hlen + bl));
    be32_put(out + 4, ((uint32_t)t << 24) | (uint32_t)hlen);
    memcpy(out + 8, hdr, hlen);
    if (bl) memcpy(out + 8 + hlen, body, bl);
    return 8 + hlen + bl;
}

/* Decodes a whole JSON header string given as the header of a frame. */
static rm_status_t dec_json(const char *hdr, rm_cmd_t *c) {
    static uint8_t fb[8192];
    size_t n = frame_of(fb, 0, hdr, strlen(hdr), NULL);
    return rm_decode(fb + 4, (uint32_t)(n - 4), &g_scratch, c, g_err, sizeof(g_err));
}

static rm_cmd_t g_cmd;

/* ---- golden vectors ------------------------------------------------------ */

/* The Go request of remoting-protocol.md 1.4, body "hi": L = 4 + 108 + 2 = 0x72, H = 0x6c. */
static const char k_go_hdr[] =
    "{\"code\":105,\"language\":\"GO\",\"version\":317,\"opaque\":7,\"flag\":0,\"remark\":\"\","
    "\"extFields\":{\"topic\":\"TopicTest\"}}";

static void test_golden_json_frame(void **state) {
    (void)state;
    uint8_t f[128] = {0x00, 0x00, 0x00, 0x72, 0x00, 0x00, 0x00, 0x6c};
    assert_int_equal(sizeof(k_go_hdr) - 1, 0x6c);
    memcpy(f + 8, k_go_hdr, 0x6c);
    memcpy(f + 8 + 0x6c, "hi", 2);
    uint32_t l = 0;
    assert_int_equal(rm_frame_length(f, 3, 0, &l, g_err, sizeof(g_err)), RM_NEED_MORE);
    assert_int_equal(rm_frame_length(f, 4, 0, &l, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(l, 0x72);
    assert_int_equal(rm_decode(f + 4, l, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(g_cmd.code, 105);
    assert_int_equal(g_cmd.language, LANG_GO);
    assert_int_equal(g_cmd.version, 317);
    assert_int_equal(g_cmd.opaque, 7);
    assert_int_equal(g_cmd.flag, 0);
    assert_int_equal(g_cmd.serialize, RM_SER_JSON);
    assert_null(g_cmd.remark); /* "" is no remark */
    assert_int_equal(g_cmd.ext_count, 1);
    assert_string_equal(rm_ext_get(&g_cmd, "topic"), "TopicTest");
    assert_int_equal(g_cmd.body_len, 2);
    assert_memory_equal(g_cmd.body, "hi", 2);
}

/*
 * ROCKETMQ binary (1.5): code 105, language GO (9), version 317, opaque 7,
 * flag 0, remark "hi", extFields {topic: TopT}, body "abc".
 * H = 21 + 2 + (2+5+4+4) = 38 = 0x26; L = 4 + 38 + 3 = 45 = 0x2d.
 */
static const uint8_t k_bin_frame[] = {
    0x00, 0x00, 0x00, 0x2d,             /* L */
    0x01, 0x00, 0x00, 0x26,             /* T=1, H=38 */
    0x00, 0x69,                         /* code 105 */
    0x09,                               /* language GO */
    0x01, 0x3d,                         /* version 317 */
    0x00, 0x00, 0x00, 0x07,             /* opaque */
    0x00, 0x00, 0x00, 0x00,             /* flag */
    0x00, 0x00, 0x00, 0x02, 'h', 'i',   /* remark */
    0x00, 0x00, 0x00, 0x0f,             /* extLen 15 */
    0x00, 0x05, 't', 'o', 'p', 'i', 'c', 0x00, 0x00, 0x00, 0x04, 'T', 'o', 'p', 'T',
    'a', 'b', 'c',                      /* body */
};

static void test_golden_binary_frame(void **state) {
    (void)state;
    uint32_t l = 0;
    assert_int_equal(rm_frame_length(k_bin_frame, sizeof(k_bin_frame), 0, &l, g_err, sizeof(g_err)),
                     RM_OK);
    assert_int_equal(l, sizeof(k_bin_frame) - 4);
    assert_int_equal(rm_decode(k_bin_frame + 4, l, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(g_cmd.code, 105);
    assert_int_equal(g_cmd.language, LANG_GO);
    assert_int_equal(g_cmd.version, 317);
    assert_int_equal(g_cmd.opaque, 7);
    assert_int_equal(g_cmd.serialize, RM_SER_ROCKETMQ);
    assert_string_equal(g_cmd.remark, "hi");
    assert_int_equal(g_cmd.ext_count, 1);
    assert_string_equal(g_cmd.ext[0].key, "topic");
    assert_string_equal(g_cmd.ext[0].val, "TopT");
    assert_int_equal(g_cmd.ext[0].vlen, 4);
    assert_int_equal(g_cmd.body_len, 3);
    assert_memory_equal(g_cmd.body, "abc", 3);
}

static void test_encoder_matches_golden_binary(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    rm_enc_t e;
    rm_enc_begin_ex(&e, &b, RM_SER_ROCKETMQ, 105, 7, 0, "hi", LANG_GO, 317);
    rm_enc_ext(&e, "topic", "TopT");
    rm_enc_body(&e, "abc", 3);
    rm_enc_end(&e);
    assert_int_equal(b.len, sizeof(k_bin_frame));
    assert_memory_equal(b.data, k_bin_frame, sizeof(k_bin_frame));
    buf_free(&b);
}

static void test_encoder_json_bytes(void **state) {
    (void)state;
    static const char expect[] =
        "{\"code\":0,\"flag\":1,\"language\":\"JAVA\",\"opaque\":42,"
        "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":401,\"extFields\":{\"queueId\":\"3\"}}";
    buf_t b;
    buf_init(&b);
    buf_append(&b, "xx", 2); /* frames are appended after existing bytes */
    rm_enc_t e;
    rm_enc_begin(&e, &b, RM_SER_JSON, 0, 42, RM_FLAG_RESPONSE, NULL);
    rm_enc_ext_i64(&e, "queueId", 3);
    rm_enc_end(&e);
    size_t h = sizeof(expect) - 1; /* 124 = 0x7c */
    assert_int_equal(h, 0x7c);
    const uint8_t head[8] = {0x00, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00, 0x7c};
    assert_int_equal(b.len, 2 + 8 + h);
    assert_memory_equal(b.data + 2, head, 8);
    assert_memory_equal(b.data + 10, expect, h);
    buf_free(&b);
}

/* ---- round trips ------------------------------------------------------------ */

static void roundtrip(int ser) {
    buf_t b;
    buf_init(&b);
    rm_enc_t e;
    const char *remark = "quote\" back\\ nl\n ctl\x01 utf8 \xc3\xa9";
    rm_enc_begin_ex(&e, &b, ser, SEND_MESSAGE_V2, -5, RM_FLAG_ONEWAY, remark, LANG_CPP, 333);
    char key[16], val[32];
    for (int i = 0; i < 20; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "v%d\x01\x02", i);
        rm_enc_ext(&e, key, val);
    }
    rm_enc_ext_i64(&e, "neg", INT64_MIN);
    rm_enc_ext_bool(&e, "b", 1);
    rm_enc_body(&e, "bo", 2);
    rm_enc_body(&e, "dy", 2);
    rm_enc_end(&e);
    uint32_t l;
    assert_int_equal(rm_frame_length(b.data, b.len, 0, &l, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(l + 4, b.len);
    assert_int_equal(rm_decode(b.data + 4, l, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(g_cmd.code, SEND_MESSAGE_V2);
    assert_int_equal(g_cmd.opaque, -5);
    assert_true(rm_is_oneway(&g_cmd));
    assert_false(rm_is_response(&g_cmd));
    assert_int_equal(g_cmd.language, LANG_CPP);
    assert_int_equal(g_cmd.version, 333);
    assert_int_equal(g_cmd.serialize, ser);
    assert_string_equal(g_cmd.remark, remark);
    assert_int_equal(g_cmd.ext_count, 22);
    assert_string_equal(rm_ext_get(&g_cmd, "k7"), "v7\x01\x02");
    int64_t v;
    assert_int_equal(rm_ext_i64(&g_cmd, "neg", &v), 0);
    assert_true(v == INT64_MIN);
    int bv;
    assert_int_equal(rm_ext_bool(&g_cmd, "b", &bv), 0);
    assert_int_equal(bv, 1);
    assert_int_equal(g_cmd.body_len, 4);
    assert_memory_equal(g_cmd.body, "body", 4);
    /* an owning copy survives the frame */
    rm_response_t *r = rm_cmd_clone(&g_cmd);
    memset(b.data, 0, b.len);
    buf_free(&b);
    assert_string_equal(rm_ext_get(&r->cmd, "k19"), "v19\x01\x02");
    assert_string_equal(r->cmd.remark, remark);
    assert_memory_equal(r->cmd.body, "body", 4);
    rm_response_free(r);
}

static void test_roundtrip_json(void **state) {
    (void)state;
    roundtrip(RM_SER_JSON);
}

static void test_roundtrip_binary(void **state) {
    (void)state;
    roundtrip(RM_SER_ROCKETMQ);
}

static void test_empty_header_and_no_body(void **state) {
    (void)state;
    buf_t b;
    buf_init(&b);
    rm_enc_t e;
    rm_enc_begin(&e, &b, RM_SER_JSON, 3, 1, 1, " request type 9 not supported");
    rm_enc_end(&e);
    uint32_t l;
    assert_int_equal(rm_frame_length(b.data, b.len, 0, &l, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(rm_decode(b.data + 4, l, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(g_cmd.ext_count, 0);
    assert_null(g_cmd.body);
    assert_string_equal(g_cmd.remark, " request type 9 not supported");
    buf_free(&b);
}

/* ---- liberal JSON ------------------------------------------------------------ */

static void test_json_liberal_values(void **state) {
    (void)state;
    /* ali-ons / C++ style: numbers and booleans in extFields, null dropped,
     * language as an integer, unknown keys with nested values, whitespace. */
    const char *h =
        " { \"extFields\" : { \"queueId\" : 3, \"sysFlag\":0, \"k\":false, \"t\":true,"
        " \"neg\":-12, \"f\":1.5e3, \"gone\":null, \"obj\":{\"x\":[1,{\"y\":null}]},"
        " \"AccessKey\":\"\" },\n\"unknown\":{\"a\":[1,2,{\"b\":\"}\"}],\"c\":\"\\\"\"},"
        "\"language\":13, \"opaque\":-2147483648, \"code\":310, \"version\":121,"
        " \"serializeTypeCurrentRPC\":\"JSON\", \"xs\":[], \"xo\":{}, \"n\":null } ";
    assert_int_equal(dec_json(h, &g_cmd), RM_OK);
    assert_int_equal(g_cmd.code, 310);
    assert_int_equal(g_cmd.opaque, INT32_MIN);
    assert_int_equal(g_cmd.language, LANG_NODE_JS);
    assert_int_equal(g_cmd.version, 121);
    assert_int_equal(g_cmd.flag, 0);
    assert_null(g_cmd.remark);
    assert_string_equal(rm_ext_get(&g_cmd, "queueId"), "3");
    assert_string_equal(rm_ext_get(&g_cmd, "sysFlag"), "0");
    assert_string_equal(rm_ext_get(&g_cmd, "k"), "false");
    assert_string_equal(rm_ext_get(&g_cmd, "t"), "true");
    assert_string_equal(rm_ext_get(&g_cmd, "neg"), "-12");
    assert_string_equal(rm_ext_get(&g_cmd, "f"), "1.5e3");
    assert_string_equal(rm_ext_get(&g_cmd, "AccessKey"), "");
    assert_null(rm_ext_get(&g_cmd, "gone"));
    assert_null(rm_ext_get(&g_cmd, "obj"));
    int32_t q;
    assert_int_equal(rm_ext_i32(&g_cmd, "queueId", &q), 0);
    assert_int_equal(q, 3);
    int bv = -1;
    assert_int_equal(rm_ext_bool(&g_cmd, "k", &bv), 0);
    assert_int_equal(bv, 0);
}

static void test_json_escapes(void **state) {
    (void)state;
    const char *h =
        "{\"code\":10,\"opaque\":1,\"remark\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\","
        "\"extFields\":{\"i\":\"k\\u0001v\\u0002\",\"e\":\"\\u00e9\\u20ac\","
        "\"s\":\"\\ud83d\\ude00\",\"lone\":\"x\\ud800y\",\"lo\":\"\\udc00\","
        "\"k\\u0065y\":\"1\",\"z\":\"\\u0000z\"}}";
    assert_int_equal(dec_json(h, &g_cmd), RM_OK);
    assert_string_equal(g_cmd.remark, "a\"b\\c/d\b\f\n\r\t");
    assert_string_equal(rm_ext_get(&g_cmd, "i"), "k\x01v\x02");
    assert_string_equal(rm_ext_get(&g_cmd, "e"), "\xc3\xa9\xe2\x82\xac");
    assert_string_equal(rm_ext_get(&g_cmd, "s"), "\xf0\x9f\x98\x80");
    assert_string_equal(rm_ext_get(&g_cmd, "lone"), "x\xef\xbf\xbdy");
    assert_string_equal(rm_ext_get(&g_cmd, "lo"), "\xef\xbf\xbd");
    assert_string_equal(rm_ext_get(&g_cmd, "key"), "1");
    for (uint32_t i = 0; i < g_cmd.ext_count; i++)
        if (strcmp(g_cmd.ext[i].key, "z") == 0) {
            assert_int_equal(g_cmd.ext[i].vlen, 2);
            assert_memory_equal(g_cmd.ext[i].val, "\0z", 2);
        }
}

static void test_json_minimal_and_language_names(void **state) {
    (void)state;
    assert_int_equal(dec_json("{\"code\":34}", &g_cmd), RM_OK);
    assert_int_equal(g_cmd.code, 34);
    assert_int_equal(g_cmd.opaque, 0);
    assert_int_equal(g_cmd.ext_count, 0);
    assert_null(g_cmd.remark);
    assert_int_equal(g_cmd.language, LANG_OTHER);
    assert_int_equal(dec_json("{\"code\":34,\"language\":\"CPP\",\"remark\":null,\"extFields\":null}",
                              &g_cmd), RM_OK);
    assert_int_equal(g_cmd.language, LANG_CPP);
    assert_int_equal(dec_json("{\"code\":34,\"language\":\"KLINGON\"}", &g_cmd), RM_OK);
    assert_int_equal(g_cmd.language, LANG_OTHER);
    assert_int_equal(dec_json("{\"code\":200050,\"opaque\":2147483647,\"flag\":3}", &g_cmd), RM_OK);
    assert_int_equal(g_cmd.code, 200050);
    assert_int_equal(g_cmd.opaque, INT32_MAX);
    assert_true(rm_is_response(&g_cmd) && rm_is_oneway(&g_cmd));
}

static void test_json_many_ext(void **state) {
    (void)state;
    buf_t h;
    buf_init(&h);
    buf_append_str(&h, "{\"code\":1,\"opaque\":9,\"extFields\":{");
    for (int i = 0; i < RM_MAX_EXT + 1; i++) buf_printf(&h, "%s\"k%d\":\"v\"", i ? "," : "", i);
    buf_append_str(&h, "}}");
    buf_put_u8(&h, 0);
    assert_int_equal(dec_json((char *)h.data, &g_cmd), RM_EHEADER_REPLY);
    assert_int_equal(g_cmd.opaque, 9);
    buf_free(&h);
}

/* ---- malformed input ---------------------------------------------------------- */

static void test_bad_frame_length(void **state) {
    (void)state;
    uint32_t l;
    const uint8_t neg[4] = {0xff, 0xff, 0xff, 0xff};
    assert_int_equal(rm_frame_length(neg, 4, 0, &l, g_err, sizeof(g_err)), RM_EFRAME);
    const uint8_t three[4] = {0, 0, 0, 3};
    assert_int_equal(rm_frame_length(three, 4, 0, &l, g_err, sizeof(g_err)), RM_EFRAME);
    const uint8_t four[4] = {0, 0, 0, 4};
    assert_int_equal(rm_frame_length(four, 4, 0, &l, g_err, sizeof(g_err)), RM_OK);
    const uint8_t big[4] = {0x01, 0x00, 0x00, 0x01}; /* 16 MiB + 1 */
    assert_int_equal(rm_frame_length(big, 4, 0, &l, g_err, sizeof(g_err)), RM_EFRAME);
    const uint8_t max[4] = {0x01, 0x00, 0x00, 0x00};
    assert_int_equal(rm_frame_length(max, 4, 0, &l, g_err, sizeof(g_err)), RM_OK);
    assert_int_equal(rm_frame_length(four + 1, 3, 0, &l, g_err, sizeof(g_err)), RM_NEED_MORE);
    const uint8_t small_max[4] = {0, 0, 1, 1};
    assert_int_equal(rm_frame_length(small_max, 4, 256, &l, g_err, sizeof(g_err)), RM_EFRAME);
}

static void test_bad_header_length(void **state) {
    (void)state;
    /* H > L-4 */
    const uint8_t f[] = {0x00, 0x00, 0x00, 0x10, 'x', 'x', 'x', 'x', 'x', 'x', 'x', 'x'};
    assert_int_equal(rm_decode(f, 8, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_EHEADER);
    assert_int_equal(rm_decode(f, 3, &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_EHEADER);
    /* unknown serialize type 2 */
    const uint8_t t2[] = {0x02, 0x00, 0x00, 0x02, '{', '}'};
    assert_int_equal(rm_decode(t2, sizeof(t2), &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_EHEADER);
    /* empty header */
    const uint8_t h0[] = {0x00, 0x00, 0x00, 0x00};
    assert_int_equal(rm_decode(h0, sizeof(h0), &g_scratch, &g_cmd, g_err, sizeof(g_err)), RM_EHEADER);
}

static void test_bad_json(void **state) {
    (void)state;
    static const struct {
        const char *hdr;
        rm_status_t st;
    } cases[] = {
        {"{\"code\":1", RM_EHEADER},                                  /* truncated */
        {"{\"code\":1,\"opaque\":5,\"fl", RM_EHEADER_REPLY},          /* truncated after both */
        {"{code:1,opaque:2}", RM_EHEADER},                            /* unquoted keys */
        {"[1,2]", RM_EHEADER},                                        /* not an object */
        {"", RM_EHEADER},
        {"{}", RM_EHEADER},                                           /* no code */
        {"{\"code\":\"105\",\"opaque\":3}", RM_EHEADER},              /* code as a string */
        {"{\"opaque\":3,\"code\":1.5}", RM_EHEADER},                  /* code not an integer */
        {"{\"code\":4294967296,\"opaque\":3}", RM_EHEADER},           /* out of int32 */
        {"{\"code\":10,\"opaque\":\"3\"}", RM_EHEADER},               /* opaque as a string */
        {"{\"code\":10,\"opaque\":3,\"remark\":5}", RM_EHEADER_REPLY},
        {"{\"code\":10,\"opaque\":3,\"flag\":\"x\"}", RM_EHEADER_REPLY},
        {"{\"extFields\":[1],\"code\":10,\"opaque\":3}", RM_EHEADER_REPLY},
        {"{\"code\":10,\"opaque\":3} x", RM_EHEADER_REPLY},          /* trailing bytes */
        {"{\"code\":10,\"opaque\":3,}", RM_EHEADER_REPLY},            /* trailing comma */
        {"{\"code\":10,\"opaque\":3,\"remark\":\"\\x\"}", RM_EHEADER_REPLY}, /* bad escape */
        {"{\"code\":10,\"opaque\":3,\"remark\":\"\\u12\"}", RM_EHEADER_REPLY},
        {"{\"code\":10,\"opaque\":3,\"extFields\":{\"a\":tru}}", RM_EHEADER_REPLY},
        {"{\"code\":10,\"opaque\":3,\"extFields\":{\"a\":01}}", RM_EHEADER_REPLY},
        {"{\"code\":10,\"opaque\":3,\"extFields\":{\"a\" \"b\"}}", RM_EHEADER_REPLY},
        {"{\"code\":-,\"opaque\":3}", RM_EHEADER},
        {"{\"code\":10,\"opaque\":3,\"x\":\"unterminated}", RM_EHEADER_REPLY},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rm_status_t st = dec_json(cases[i].hdr, &g_cmd);
        if (st != cases[i].st) fail_msg("case %zu (%s): got %d want %d", i, cases[i].hdr, st, cases[i].st);
        assert_true(g_err[0] != '\0');
        if (st == RM_EHEADER_REPLY) assert_int_equal(g_cmd.opaque, 3 + (i == 1 ? 2 : 0));
    }
    /* nesting bomb */
    char deep[400];
    size_t o = (size_t)snprintf(deep, sizeof(deep), "{\"code\":1,\"opaque\":3,\"x\":");
    for (int i = 0; i < 100; i++) deep[o++] = '[';
    for (int i = 0; i < 100; i++) deep[o++] = ']';
    deep[o++] = '}';
    deep[o] = 0;
    assert_int_equal(dec_json(deep, &g_cmd), RM_EHEADER_REPLY);
}

static void bin_case(const uint8_t *h, size_t n, rm_status_t want) {
    uint8_t f[256];
    be32_put(f, (1u << 24) | (uint32_t)n);
    memcpy(f + 4, h, n);
    rm_status_t st = rm_decode(f, (uint32_t)(4 + n), &g_scratch, &g_cmd, g_err, sizeof(g_err));
    assert_int_equal(st, want);
}

static void test_bad_binary(void **state) {
    (void)state;
    const uint8_t *ok = k_bin_frame + 8;
    size_t n = 38;
    uint8_t h[64];
    bin_case(ok, n, RM_OK);
    bin_case(ok, 12, RM_EHEADER);        /* not even code/opaque/flag */
    bin_case(ok, 15, RM_EHEADER_REPLY);  /* truncated remarkLen */
    memcpy(h, ok, n);
    be32_put(h + 13, 100);               /* remarkLen past the end */
    bin_case(h, n, RM_EHEADER_REPLY);
    assert_int_equal(g_cmd.opaque, 7);
    be32_put(h + 13, 0xffffffffu);       /* negative remarkLen */
    bin_case(h, n, RM_EHEADER_REPLY);
    memcpy(h, ok, n);
    be32_put(h + 19, 16);                /* extLen past the end */
    bin_case(h, n, RM_EHEADER_REPLY);
    be32_put(h + 19, 0x80000000u);       /* negative extLen */
    bin_case(h, n, RM_EHEADER_REPLY);
    memcpy(h, ok, n);
    be16_put(h + 23, 9);                 /* keyLen past extLen */
    bin_case(h, n, RM_EHEADER_REPLY);
    memcpy(h, ok, n);
    be32_put(h + 30, 5);                 /* valLen past extLen */
    bin_case(h, n, RM_EHEADER_REPLY);
    memcpy(h, ok, n);
    bin_case(h, 23, RM_EHEADER_REPLY);   /* truncated before extLen */
    /* remark and ext empty: minimal 21-byte header */
    uint8_t m[21] = {0, 34, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0};
    bin_case(m, 21, RM_OK);
    assert_null(g_cmd.remark);
    assert_int_equal(g_cmd.ext_count, 0);
    /* empty value: Java reads it as null */
    uint8_t ev[32] = {0, 34, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7,
                      0, 1, 'a', 0, 0, 0, 0};
    bin_case(ev, 28, RM_OK);
    assert_int_equal(g_cmd.ext_count, 0);
}

/* ---- helpers ---------------------------------------------------------------- */

static void test_ext_accessors(void **state) {
    (void)state;
    assert_int_equal(dec_json("{\"code\":1,\"extFields\":{\"a\":\"12\",\"b\":\"x\",\"c\":\"1\","
                              "\"d\":\"0\",\"e\":\"TRUE\",\"f\":\"9223372036854775808\","
                              "\"g\":\"-9223372036854775808\",\"h\":\"2147483648\",\"i\":\"\"}}",
                              &g_cmd), RM_OK);
    int64_t v;
    int32_t w;
    int b;
    assert_int_equal(rm_ext_i64(&g_cmd, "a", &v), 0);
    assert_int_equal(v, 12);
    assert_int_equal(rm_ext_i64(&g_cmd, "b", &v), -2);
    assert_int_equal(rm_ext_i64(&g_cmd, "zz", &v), -1);
    assert_int_equal(rm_ext_i64(&g_cmd, "f", &v), -2);
    assert_int_equal(rm_ext_i64(&g_cmd, "g", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(rm_ext_i32(&g_cmd, "h", &w), -2);
    assert_int_equal(rm_ext_i32(&g_cmd, "i", &w), -2);
    assert_int_equal(rm_ext_bool(&g_cmd, "c", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(rm_ext_bool(&g_cmd, "d", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(rm_ext_bool(&g_cmd, "e", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(rm_ext_bool(&g_cmd, "b", &b), -2);
    assert_int_equal(rm_ext_bool(&g_cmd, "q", &b), -1);
}

static void test_names(void **state) {
    (void)state;
    assert_string_equal(rm_request_code_name(310), "SEND_MESSAGE_V2");
    assert_string_equal(rm_request_code_name(10), "SEND_MESSAGE");
    assert_string_equal(rm_request_code_name(200151), "BATCH_ACK_MESSAGE");
    assert_null(rm_request_code_name(9999));
    assert_string_equal(rm_language_name(LANG_JAVA), "JAVA");
    assert_string_equal(rm_language_name(LANG_NODE_JS), "NODE_JS");
    assert_string_equal(rm_language_name(99), "OTHER");
    assert_int_equal(rm_language_from_name("GO", 2), LANG_GO);
    assert_int_equal(rm_language_from_name("GOX", 3), -1);
    assert_string_equal(rm_strerror(RM_ETIMEOUT), "timed out waiting for the response");
}

static int teardown(void **state) {
    (void)state;
    buf_free(&g_scratch);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_json_frame),
        cmocka_unit_test(test_golden_binary_frame),
        cmocka_unit_test(test_encoder_matches_golden_binary),
        cmocka_unit_test(test_encoder_json_bytes),
        cmocka_unit_test(test_roundtrip_json),
        cmocka_unit_test(test_roundtrip_binary),
        cmocka_unit_test(test_empty_header_and_no_body),
        cmocka_unit_test(test_json_liberal_values),
        cmocka_unit_test(test_json_escapes),
        cmocka_unit_test(test_json_minimal_and_language_names),
        cmocka_unit_test(test_json_many_ext),
        cmocka_unit_test(test_bad_frame_length),
        cmocka_unit_test(test_bad_header_length),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_bad_binary),
        cmocka_unit_test(test_ext_accessors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
