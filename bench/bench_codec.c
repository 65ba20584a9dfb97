/*
 * bench_codec: decode and encode cost of a SEND_MESSAGE_V2 request header
 * (the shape ali-ons / the Java client send), JSON and ROCKETMQ binary.
 * Built on demand: `cmake --build build --target bench_codec`.
 * Usage: bench_codec [iterations] [decode|encode|both] [json|binary]
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/util.h"
#include "remoting/remoting.h"

static void encode_send(buf_t *b, int ser, int32_t opaque) {
    rm_enc_t e;
    rm_enc_begin_ex(&e, b, ser, SEND_MESSAGE_V2, opaque, 0, NULL, LANG_JAVA, 401);
    rm_enc_ext(&e, "a", "please_rename_unique_group_name");
    rm_enc_ext(&e, "b", "TopicTest");
    rm_enc_ext(&e, "c", "TBW102");
    rm_enc_ext_i64(&e, "d", 4);
    rm_enc_ext_i64(&e, "e", 3);
    rm_enc_ext_i64(&e, "f", 0);
    rm_enc_ext_i64(&e, "g", 1700000000123LL);
    rm_enc_ext_i64(&e, "h", 0);
    rm_enc_ext(&e, "i", "KEYS\001order-1\002UNIQ_KEY\0017F0000010A2B18B4AAC2123456780000\002"
                        "WAIT\001true\002TAGS\001TagA\002");
    rm_enc_ext_i64(&e, "j", 0);
    rm_enc_ext_bool(&e, "k", 0);
    rm_enc_ext_i64(&e, "l", 16);
    rm_enc_ext_bool(&e, "m", 0);
    rm_enc_body(&e, "Hello RocketMQ 0123456789", 25);
    rm_enc_end(&e);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    /* optional: only "decode" or only "encode" loops (instruction counting under valgrind) */
    const char *only = argc > 2 ? argv[2] : "";
    long nd = strcmp(only, "encode") == 0 ? 0 : n, ne = strcmp(only, "decode") == 0 ? 0 : n;
    buf_t frame, out, scratch;
    buf_init(&frame);
    buf_init(&out);
    buf_init(&scratch);
    rm_cmd_t cmd;
    char err[160];
    const char *sel = argc > 3 ? argv[3] : "";
    for (int ser = 0; ser < 2; ser++) {
        if ((strcmp(sel, "json") == 0 && ser) || (strcmp(sel, "binary") == 0 && !ser)) continue;
        frame.len = 0;
        encode_send(&frame, ser, 1);
        uint32_t hlen = be32_get(frame.data + 4) & 0xFFFFFF;
        volatile int64_t sink = 0;
        int64_t t0 = mono_ns();
        for (long i = 0; i < nd; i++) {
            if (rm_decode(frame.data + 4, (uint32_t)frame.len - 4, &scratch, &cmd, err,
                          sizeof(err)) != RM_OK)
                abort();
            sink += cmd.ext_count;
        }
        int64_t t1 = mono_ns();
        for (long i = 0; i < ne; i++) {
            out.len = 0;
            encode_send(&out, ser, (int32_t)i);
            sink += (int64_t)out.len;
        }
        int64_t t2 = mono_ns();
        printf("%s header (%u bytes, %u extFields): decode %.0f ns, encode %.0f ns, "
               "decode+encode %.0f ns\n",
               ser ? "ROCKETMQ" : "JSON", hlen, cmd.ext_count, (double)(t1 - t0) / n,
               (double)(t2 - t1) / n, (double)(t2 - t0) / n);
        (void)sink;
    }
    buf_free(&frame);
    buf_free(&out);
    buf_free(&scratch);
    return 0;
}
