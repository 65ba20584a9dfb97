/*
 * fuzz_frame: feeds arbitrary bytes to the frame splitter and the header
 * decoders (as a stream of frames, and the whole input as one frame), then
 * checks what a decoded command promises: NUL-terminated strings, a body
 * inside the frame, and a JSON re-encode that decodes to the same command.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "remoting/remoting.h"

static buf_t g_scratch, g_scratch2, g_enc;
static rm_cmd_t g_cmd, g_cmd2;

#define CHECK(c) ((c) ? (void)0 : abort())

static void check_cmd(const rm_cmd_t *c, const uint8_t *frame, uint32_t len) {
    if (c->remark) CHECK(strlen(c->remark) < len);
    CHECK(c->ext_count <= RM_MAX_EXT);
    for (uint32_t i = 0; i < c->ext_count; i++) {
        CHECK(strlen(c->ext[i].key) < len);
        CHECK(c->ext[i].val[c->ext[i].vlen] == '\0');
        int64_t v;
        int b;
        (void)rm_ext_i64(c, c->ext[i].key, &v);
        (void)rm_ext_bool(c, c->ext[i].key, &b);
    }
    if (c->body_len) CHECK(c->body >= frame && c->body + c->body_len == frame + len);
    else CHECK(c->body == NULL);
}

/* JSON re-encode, decode again, compare. */
static void roundtrip(const rm_cmd_t *c) {
    g_enc.len = 0;
    rm_enc_t e;
    rm_enc_begin_ex(&e, &g_enc, RM_SER_JSON, c->code, c->opaque, c->flag, c->remark, c->language,
                    c->version);
    for (uint32_t i = 0; i < c->ext_count; i++)
        rm_enc_extn(&e, c->ext[i].key, c->ext[i].val, c->ext[i].vlen);
    if (c->body_len) rm_enc_body(&e, c->body, c->body_len);
    rm_enc_end(&e);
    uint32_t l;
    char err[160];
    CHECK(rm_frame_length(g_enc.data, g_enc.len, 0, &l, err, sizeof(err)) == RM_OK);
    CHECK(l + 4 == g_enc.len);
    CHECK(rm_decode(g_enc.data + 4, l, &g_scratch2, &g_cmd2, err, sizeof(err)) == RM_OK);
    CHECK(g_cmd2.code == c->code && g_cmd2.opaque == c->opaque && g_cmd2.flag == c->flag);
    CHECK(g_cmd2.version == c->version);
    CHECK(g_cmd2.ext_count == c->ext_count);
    for (uint32_t i = 0; i < c->ext_count; i++) {
        CHECK(strcmp(g_cmd2.ext[i].key, c->ext[i].key) == 0);
        CHECK(g_cmd2.ext[i].vlen == c->ext[i].vlen);
        CHECK(memcmp(g_cmd2.ext[i].val, c->ext[i].val, c->ext[i].vlen) == 0);
    }
    if (c->remark && c->remark[0]) CHECK(g_cmd2.remark && strcmp(g_cmd2.remark, c->remark) == 0);
    CHECK(g_cmd2.body_len == c->body_len);
    if (c->body_len) CHECK(memcmp(g_cmd2.body, c->body, c->body_len) == 0);
}

static void one_frame(const uint8_t *f, uint32_t len) {
    char err[160];
    rm_status_t st = rm_decode(f, len, &g_scratch, &g_cmd, err, sizeof(err));
    CHECK(st == RM_OK || st == RM_EHEADER || st == RM_EHEADER_REPLY);
    if (st != RM_OK) {
        CHECK(err[0] != '\0');
        return;
    }
    check_cmd(&g_cmd, f, len);
    roundtrip(&g_cmd);
    rm_response_t *r = rm_cmd_clone(&g_cmd);
    CHECK(r->cmd.ext_count == g_cmd.ext_count);
    rm_response_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* a stream of frames, as the server's read loop sees it */
    size_t pos = 0;
    char err[160];
    for (int n = 0; n < 64; n++) {
        uint32_t l;
        rm_status_t st = rm_frame_length(data + pos, size - pos, 1u << 20, &l, err, sizeof(err));
        if (st != RM_OK) break;
        if (size - pos < (size_t)l + 4) break;
        one_frame(data + pos + 4, l);
        pos += (size_t)l + 4;
    }
    /* the whole input as the bytes after a length word */
    if (size >= 4 && size < (1u << 24)) one_frame(data, (uint32_t)size);
    if (g_scratch.cap > (1u << 20)) buf_free(&g_scratch);
    return 0;
}
