/*
 * codec: frame splitting, header decoding dispatch (JSON in header_json.c,
 * ROCKETMQ binary here), the streaming frame encoder and extFields helpers.
 *
 * Decoding never allocates per field: one scratch reservation per frame
 * (2*H+64 bytes) holds every unescaped, NUL-terminated string.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"
#include "remoting/rm_internal.h"

/* ---- decoding ---------------------------------------------------------- */

rm_status_t rm_frame_length(const uint8_t *p, size_t avail, uint32_t max_frame,
                            uint32_t *frame_len, char *err, size_t errlen) {
    if (avail < 4) return RM_NEED_MORE;
    int32_t l = (int32_t)be32_get(p);
    if (max_frame == 0) max_frame = RM_DEFAULT_MAX_FRAME;
    if (l < 4) {
        snprintf(err, errlen, "frame length %d below 4", (int)l);
        return RM_EFRAME;
    }
    if ((uint32_t)l > max_frame) {
        snprintf(err, errlen, "frame length %u above the maximum %u", (unsigned)l,
                 (unsigned)max_frame);
        return RM_EFRAME;
    }
    *frame_len = (uint32_t)l;
    return RM_OK;
}

/* extFields keys and values are mostly a few bytes: a loop beats a memcpy call */
static inline void small_copy(char *d, const uint8_t *s, size_t n) {
    /* two overlapping fixed-size moves cover any n in [k, 2k] */
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(d, &a, 8);
        memcpy(d + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(d, &a, 4);
        memcpy(d + n - 4, &b, 4);
    } else if (n > 16) {
        memcpy(d, s, n);
    } else {
        for (size_t i = 0; i < n; i++) d[i] = (char)s[i];
    }
}

rm_status_t rm__decode_binary(const uint8_t *h, uint32_t hlen, char *out, rm_cmd_t *cmd,
                              char *err, size_t errlen) {
    if (hlen < 13) {
        snprintf(err, errlen, "binary header of %u bytes is truncated", (unsigned)hlen);
        return RM_EHEADER;
    }
    cmd->code = (int16_t)be16_get(h);
    cmd->language = h[2];
    cmd->version = (int16_t)be16_get(h + 3);
    cmd->opaque = (int32_t)be32_get(h + 5);
    cmd->flag = (int32_t)be32_get(h + 9);
    /* From here on code and opaque are known: failures can be answered. */
    uint32_t pos = 13;
    if (hlen - pos < 4) {
        snprintf(err, errlen, "binary header truncated before remarkLen");
        return RM_EHEADER_REPLY;
    }
    int32_t rl = (int32_t)be32_get(h + pos);
    pos += 4;
    if (rl < 0 || (uint32_t)rl > hlen - pos) {
        snprintf(err, errlen, "binary header remarkLen %d out of bounds", (int)rl);
        return RM_EHEADER_REPLY;
    }
    if (rl > 0) {
        memcpy(out, h + pos, (size_t)rl);
        out[rl] = '\0';
        cmd->remark = out;
        out += rl + 1;
        pos += (uint32_t)rl;
    }
    if (hlen - pos < 4) {
        snprintf(err, errlen, "binary header truncated before extLen");
        return RM_EHEADER_REPLY;
    }
    int32_t el = (int32_t)be32_get(h + pos);
    pos += 4;
    if (el < 0 || (uint32_t)el > hlen - pos) {
        snprintf(err, errlen, "binary header extLen %d out of bounds", (int)el);
        return RM_EHEADER_REPLY;
    }
    uint32_t end = pos + (uint32_t)el;
    while (pos < end) {
        if (end - pos < 2) goto bad_entry;
        int16_t kl = (int16_t)be16_get(h + pos);
        pos += 2;
        if (kl < 0 || (uint32_t)kl > end - pos) goto bad_entry;
        const uint8_t *k = h + pos;
        pos += (uint32_t)kl;
        if (end - pos < 4) goto bad_entry;
        int32_t vl = (int32_t)be32_get(h + pos);
        pos += 4;
        if (vl < 0 || (uint32_t)vl > end - pos) goto bad_entry;
        const uint8_t *v = h + pos;
        pos += (uint32_t)vl;
        if (kl == 0 || vl == 0) continue; /* Java reads empty strings as null */
        if (cmd->ext_count >= RM_MAX_EXT) {
            snprintf(err, errlen, "too many extFields");
            return RM_EHEADER_REPLY;
        }
        rm_ext_t *x = &cmd->ext[cmd->ext_count++];
        small_copy(out, k, (size_t)kl);
        out[kl] = '\0';
        x->key = out;
        out += kl + 1;
        small_copy(out, v, (size_t)vl);
        out[vl] = '\0';
        x->val = out;
        x->vlen = (uint32_t)vl;
        out += vl + 1;
    }
    if (pos != hlen) {
        snprintf(err, errlen, "binary header has %u trailing bytes", (unsigned)(hlen - pos));
        return RM_EHEADER_REPLY;
    }
    return RM_OK;
bad_entry:
    snprintf(err, errlen, "binary header extFields entry out of bounds");
    return RM_EHEADER_REPLY;
}

rm_status_t rm_decode(const uint8_t *frame, uint32_t len, buf_t *scratch, rm_cmd_t *cmd,
                      char *err, size_t errlen) {
    cmd->code = 0;
    cmd->opaque = 0;
    cmd->flag = 0;
    cmd->version = 0;
    cmd->language = LANG_OTHER;
    cmd->serialize = RM_SER_JSON;
    cmd->remark = NULL;
    cmd->ext_count = 0;
    cmd->body = NULL;
    cmd->body_len = 0;
    if (len < 4) {
        snprintf(err, errlen, "frame of %u bytes has no header length", (unsigned)len);
        return RM_EHEADER;
    }
    uint32_t w = be32_get(frame);
    uint32_t t = w >> 24, hlen = w & 0xFFFFFFu;
    if (hlen > len - 4) {
        snprintf(err, errlen, "header length %u exceeds frame length %u", (unsigned)hlen,
                 (unsigned)len);
        return RM_EHEADER;
    }
    if (t > RM_SER_ROCKETMQ) {
        snprintf(err, errlen, "unknown serialize type %u", (unsigned)t);
        return RM_EHEADER;
    }
    cmd->serialize = (uint8_t)t;
    scratch->len = 0;
    char *out = (char *)buf_reserve(scratch, (size_t)hlen * 2 + 64);
    const uint8_t *h = frame + 4;
    rm_status_t st = t == RM_SER_JSON ? rm__decode_json(h, hlen, out, cmd, err, errlen)
                                      : rm__decode_binary(h, hlen, out, cmd, err, errlen);
    if (len - 4 - hlen > 0) {
        cmd->body = h + hlen;
        cmd->body_len = len - 4 - hlen;
    }
    return st;
}

/* ---- extFields --------------------------------------------------------- */

const char *rm_ext_get(const rm_cmd_t *c, const char *key) {
    /* first-byte filter: most probes miss (V2 short keys tried before V1 names) */
    const char k0 = key[0];
    for (uint32_t i = 0; i < c->ext_count; i++)
        if (c->ext[i].key[0] == k0 && strcmp(c->ext[i].key, key) == 0) return c->ext[i].val;
    return NULL;
}

static int parse_i64(const char *s, int64_t *out) {
    int neg = 0;
    if (*s == '-' || *s == '+') neg = *s++ == '-';
    if (!*s) return -2;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return -2;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -2;
        v = v * 10 + d;
    }
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1) return -2;
        *out = (int64_t)(0 - v);
    } else {
        if (v > (uint64_t)INT64_MAX) return -2;
        *out = (int64_t)v;
    }
    return 0;
}

int rm_ext_i64(const rm_cmd_t *c, const char *key, int64_t *out) {
    const char *v = rm_ext_get(c, key);
    if (!v) return -1;
    int64_t x;
    if (parse_i64(v, &x) < 0) return -2;
    *out = x;
    return 0;
}

int rm_ext_i32(const rm_cmd_t *c, const char *key, int32_t *out) {
    int64_t v;
    int rc = rm_ext_i64(c, key, &v);
    if (rc < 0) return rc;
    if (v < INT32_MIN || v > INT32_MAX) return -2;
    *out = (int32_t)v;
    return 0;
}

int rm_ext_bool(const rm_cmd_t *c, const char *key, int *out) {
    const char *v = rm_ext_get(c, key);
    if (!v) return -1;
    if (strcasecmp(v, "true") == 0 || strcmp(v, "1") == 0) {
        *out = 1;
        return 0;
    }
    if (strcasecmp(v, "false") == 0 || strcmp(v, "0") == 0) {
        *out = 0;
        return 0;
    }
    return -2;
}

/* ---- encoding ---------------------------------------------------------- */

size_t rm__i64toa(int64_t v, char *dst) {
    char tmp[24];
    size_t n = 0;
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    size_t o = 0;
    if (v < 0) dst[o++] = '-';
    while (n) dst[o++] = tmp[--n];
    return o;
}

/* JSON string writer (as buf_json_str, with one table lookup per byte). */
static const uint8_t k_esc[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Writes s as a JSON string literal at o (room for n*6+2 bytes); returns the end. */
static char *json_put(char *o, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        uint8_t c = (uint8_t)s[i++];
        if (!k_esc[c]) {
            *o++ = (char)c;
            continue;
        }
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    *o++ = '"';
    return o;
}

static void json_str(buf_t *b, const char *s, size_t n) {
    char *d = (char *)buf_reserve(b, n * 6 + 2);
    b->len += (size_t)(json_put(d, s, n) - d);
}

static inline void put_lit(buf_t *b, const char *s, size_t n) {
    memcpy(buf_reserve(b, n), s, n);
    b->len += n;
}
#define PUT_LIT(b, s) put_lit((b), (s), sizeof(s) - 1)

static inline void put_int(buf_t *b, int64_t v) {
    char *d = (char *)buf_reserve(b, 21);
    b->len += rm__i64toa(v, d);
}

void rm_enc_begin_ex(rm_enc_t *e, buf_t *out, int ser, int32_t code, int32_t opaque,
                     int32_t flag, const char *remark, int language, int version) {
    e->out = out;
    e->start = out->len;
    e->hdr_start = out->len + 8;
    e->ext_pos = 0;
    e->body_len = 0;
    e->n_ext = 0;
    e->ser = (uint8_t)ser;
    e->hdr_done = 0;
    e->discard = 0;
    e->conn = NULL;
    uint8_t *p = buf_reserve(out, 8);
    memset(p, 0, 8);
    out->len += 8;
    if (ser == RM_SER_ROCKETMQ) {
        size_t rl = remark ? strlen(remark) : 0;
        p = buf_reserve(out, 21 + rl);
        be16_put(p, (uint16_t)(int16_t)code);
        p[2] = (uint8_t)language;
        be16_put(p + 3, (uint16_t)(int16_t)version);
        be32_put(p + 5, (uint32_t)opaque);
        be32_put(p + 9, (uint32_t)flag);
        be32_put(p + 13, (uint32_t)rl);
        if (rl) memcpy(p + 17, remark, rl);
        be32_put(p + 17 + rl, 0); /* extLen, patched when the header closes */
        e->ext_pos = out->len + 17 + rl;
        out->len += 21 + rl;
        return;
    }
    /* Alphabetical like Java, except extFields last so entries can stream in. */
    PUT_LIT(out, "{\"code\":");
    put_int(out, code);
    PUT_LIT(out, ",\"flag\":");
    put_int(out, flag);
    PUT_LIT(out, ",\"language\":\"");
    buf_append_str(out, rm_language_name(language));
    PUT_LIT(out, "\",\"opaque\":");
    put_int(out, opaque);
    if (remark) {
        PUT_LIT(out, ",\"remark\":");
        json_str(out, remark, strlen(remark));
    }
    PUT_LIT(out, ",\"serializeTypeCurrentRPC\":\"JSON\",\"version\":");
    put_int(out, version);
    PUT_LIT(out, ",\"extFields\":{");
}

void rm_enc_begin(rm_enc_t *e, buf_t *out, int ser, int32_t code, int32_t opaque, int32_t flag,
                  const char *remark) {
    rm_enc_begin_ex(e, out, ser, code, opaque, flag, remark, LANG_JAVA, RM_VERSION_PETREL);
}

void rm_enc_extn(rm_enc_t *e, const char *key, const char *val, size_t vlen) {
    rm_enc_extkn(e, key, strlen(key), val, vlen);
}

void rm_enc_extk_i64(rm_enc_t *e, const char *key, size_t klen, int64_t v) {
    char tmp[24];
    size_t n = rm__i64toa(v, tmp);
    rm_enc_extkn(e, key, klen, tmp, n);
}

void rm_enc_extkn(rm_enc_t *e, const char *key, size_t kl, const char *val, size_t vlen) {
    if (e->discard) return;
    PETREL_ASSERT(!e->hdr_done);
    buf_t *b = e->out;
    if (e->ser == RM_SER_ROCKETMQ) {
        uint8_t *p = buf_reserve(b, 6 + kl + vlen);
        be16_put(p, (uint16_t)kl);
        memcpy(p + 2, key, kl);
        be32_put(p + 2 + kl, (uint32_t)vlen);
        memcpy(p + 6 + kl, val, vlen);
        b->len += 6 + kl + vlen;
    } else {
        char *d = (char *)buf_reserve(b, (kl + vlen) * 6 + 6), *o = d;
        if (e->n_ext) *o++ = ',';
        o = json_put(o, key, kl);
        *o++ = ':';
        o = json_put(o, val, vlen);
        b->len += (size_t)(o - d);
    }
    e->n_ext++;
}

void rm_enc_ext(rm_enc_t *e, const char *key, const char *val) {
    rm_enc_extn(e, key, val, strlen(val));
}

void rm_enc_ext_i64(rm_enc_t *e, const char *key, int64_t v) {
    char tmp[24];
    size_t n = rm__i64toa(v, tmp);
    rm_enc_extn(e, key, tmp, n);
}

void rm_enc_ext_bool(rm_enc_t *e, const char *key, int v) {
    if (v) rm_enc_extn(e, key, "true", 4);
    else rm_enc_extn(e, key, "false", 5);
}

static void close_header(rm_enc_t *e) {
    if (e->hdr_done) return;
    buf_t *b = e->out;
    if (e->ser == RM_SER_ROCKETMQ) be32_put(b->data + e->ext_pos, (uint32_t)(b->len - e->ext_pos - 4));
    else PUT_LIT(b, "}}");
    size_t h = b->len - e->hdr_start;
    be32_put(b->data + e->start + 4, ((uint32_t)e->ser << 24) | ((uint32_t)h & 0xFFFFFFu));
    e->hdr_done = 1;
}

void rm_enc_body(rm_enc_t *e, const void *p, size_t n) {
    if (e->discard) return;
    close_header(e);
    buf_append(e->out, p, n);
    e->body_len += (uint32_t)n;
}

void rm_enc_body_ref(rm_enc_t *e, const void *p, size_t n, void (*release)(void *), void *arg) {
    if (e->discard) {
        if (release) release(arg);
        return;
    }
    close_header(e);
    if (!e->conn) { /* not a connection reply: copy */
        buf_append(e->out, p, n);
        e->body_len += (uint32_t)n;
        if (release) release(arg);
        return;
    }
    rm__conn_body_ref(e->conn, p, n, release, arg);
    e->body_len += (uint32_t)n;
}

void rm_enc_end(rm_enc_t *e) {
    if (e->discard) return;
    close_header(e);
    buf_t *b = e->out;
    uint32_t h = be32_get(b->data + e->start + 4) & 0xFFFFFFu;
    be32_put(b->data + e->start, 4 + h + e->body_len);
    if (e->conn) rm__conn_frame_done(e->conn);
}

void rm__enc_discard(rm_enc_t *e) {
    memset(e, 0, sizeof(*e));
    e->discard = 1;
}

/* ---- owning copies ------------------------------------------------------ */

rm_response_t *rm_cmd_clone(const rm_cmd_t *c) {
    size_t total = c->body_len + 1;
    if (c->remark) total += strlen(c->remark) + 1;
    for (uint32_t i = 0; i < c->ext_count; i++)
        total += strlen(c->ext[i].key) + 1 + c->ext[i].vlen + 1;
    rm_response_t *r = xmalloc(sizeof(*r));
    uint8_t *s = xmalloc(total), *o = s;
    r->storage = s;
    rm_cmd_t *d = &r->cmd;
    d->code = c->code;
    d->opaque = c->opaque;
    d->flag = c->flag;
    d->version = c->version;
    d->language = c->language;
    d->serialize = c->serialize;
    d->remark = NULL;
    if (c->remark) {
        size_t n = strlen(c->remark) + 1;
        memcpy(o, c->remark, n);
        d->remark = (const char *)o;
        o += n;
    }
    d->ext_count = c->ext_count;
    for (uint32_t i = 0; i < c->ext_count; i++) {
        size_t kn = strlen(c->ext[i].key) + 1;
        memcpy(o, c->ext[i].key, kn);
        d->ext[i].key = (const char *)o;
        o += kn;
        memcpy(o, c->ext[i].val, c->ext[i].vlen);
        o[c->ext[i].vlen] = '\0';
        d->ext[i].val = (const char *)o;
        d->ext[i].vlen = c->ext[i].vlen;
        o += c->ext[i].vlen + 1;
    }
    d->body = NULL;
    d->body_len = c->body_len;
    if (c->body_len) {
        memcpy(o, c->body, c->body_len);
        d->body = o;
    }
    return r;
}

void rm_response_free(rm_response_t *r) {
    if (!r) return;
    free(r->storage);
    free(r);
}

const char *rm_strerror(int status) {
    switch (status) {
    case 0: return "ok";
    case RM_ETIMEOUT: return "timed out waiting for the response";
    case RM_ECONNECT: return "could not connect";
    case RM_ECLOSED: return "connection closed before the response";
    case RM_ESHUTDOWN: return "client shut down";
    case RM_EPROTO: return "undecodable response";
    default: return "unknown remoting error";
    }
}
