/*
 * msg: petrel_msg_t. Outgoing messages own each string separately so setters
 * are cheap; a received message is decoded from its stored record into ONE
 * allocation (struct, property table, topic, properties text and body), plus
 * one more only when the body must be inflated. The messages of one pull
 * answer share a single refcounted block (a slab), freed with the last of them.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"
#include "common/util.h"

petrel_msg_t *petrel_msg_new(const char *topic) {
    if (!topic || !*topic) return NULL;
    petrel_msg_t *m = calloc(1, sizeof(*m));
    if (!m) return NULL;
    m->topic = strdup(topic);
    if (!m->topic) {
        free(m);
        return NULL;
    }
    m->queue_id = -1;
    return m;
}

void petrel_msg_destroy(petrel_msg_t *m) {
    if (!m) return;
    if (m->received) {
        petrel__msg_free_received(m);
        return;
    }
    for (size_t i = 0; i < m->n_props; i++) {
        free(m->props[i].name);
        free(m->props[i].value);
    }
    free(m->props);
    free(m->body);
    free(m->topic);
    free(m);
}

petrel_msg_t *petrel_msg_dup(const petrel_msg_t *src) {
    if (!src) return NULL;
    petrel_msg_t *m = petrel_msg_new(src->topic);
    if (!m) return NULL;
    char *keep_topic = m->topic;
    memcpy(m, src, sizeof(*m));
    m->topic = keep_topic;
    m->props = NULL;
    m->n_props = m->cap_props = 0;
    m->body = NULL;
    m->received = 0;
    m->body_owned = 0;
    m->slab = NULL;
    if (src->body_len) {
        m->body = malloc(src->body_len);
        if (!m->body) goto fail;
        memcpy(m->body, src->body, src->body_len);
    }
    for (size_t i = 0; i < src->n_props; i++)
        if (petrel_msg_set_property(m, src->props[i].name, src->props[i].value) != PETREL_OK)
            goto fail;
    return m;
fail:
    m->body_len = 0;
    petrel_msg_destroy(m);
    return NULL;
}

petrel_err_t petrel_msg_set_topic(petrel_msg_t *m, const char *topic) {
    if (!m || m->received || !topic || !*topic) return PETREL_EINVAL;
    char *t = strdup(topic);
    if (!t) return PETREL_ENOMEM;
    free(m->topic);
    m->topic = t;
    return PETREL_OK;
}

static int bad_prop_text(const char *s) {
    return strchr(s, 1) || strchr(s, 2);
}

petrel_err_t petrel_msg_set_property(petrel_msg_t *m, const char *name, const char *value) {
    if (!m || m->received || !name || !*name || bad_prop_text(name)) return PETREL_EINVAL;
    if (value && bad_prop_text(value)) return PETREL_EINVAL;
    for (size_t i = 0; i < m->n_props; i++) {
        if (strcmp(m->props[i].name, name) != 0) continue;
        if (!value) {
            free(m->props[i].name);
            free(m->props[i].value);
            memmove(&m->props[i], &m->props[i + 1], (m->n_props - i - 1) * sizeof(*m->props));
            m->n_props--;
            return PETREL_OK;
        }
        char *v = strdup(value);
        if (!v) return PETREL_ENOMEM;
        free(m->props[i].value);
        m->props[i].value = v;
        return PETREL_OK;
    }
    if (!value) return PETREL_OK;
    if (m->n_props == m->cap_props) {
        size_t cap = m->cap_props ? m->cap_props * 2 : 4;
        petrel__prop_t *p = realloc(m->props, cap * sizeof(*p));
        if (!p) return PETREL_ENOMEM;
        m->props = p;
        m->cap_props = cap;
    }
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return PETREL_ENOMEM;
    }
    m->props[m->n_props].name = n;
    m->props[m->n_props].value = v;
    m->n_props++;
    return PETREL_OK;
}

petrel_err_t petrel_msg_set_tags(petrel_msg_t *m, const char *tags) {
    return petrel_msg_set_property(m, PETREL_PROP_TAGS, tags && *tags ? tags : NULL);
}

petrel_err_t petrel_msg_set_keys(petrel_msg_t *m, const char *keys) {
    return petrel_msg_set_property(m, PETREL_PROP_KEYS, keys && *keys ? keys : NULL);
}

petrel_err_t petrel_msg_set_body(petrel_msg_t *m, const void *body, size_t len) {
    if (!m || m->received || (len && !body)) return PETREL_EINVAL;
    uint8_t *b = NULL;
    if (len) {
        b = malloc(len);
        if (!b) return PETREL_ENOMEM;
        memcpy(b, body, len);
    }
    free(m->body);
    m->body = b;
    m->body_len = len;
    return PETREL_OK;
}

petrel_err_t petrel_msg_set_delay_level(petrel_msg_t *m, int level) {
    if (!m || level < 0 || level > 18) return PETREL_EINVAL;
    if (level == 0) return petrel_msg_set_property(m, PETREL_PROP_DELAY, NULL);
    char b[16];
    snprintf(b, sizeof(b), "%d", level);
    return petrel_msg_set_property(m, PETREL_PROP_DELAY, b);
}

petrel_err_t petrel_msg_set_flag(petrel_msg_t *m, int32_t flag) {
    if (!m || m->received) return PETREL_EINVAL;
    m->flag = flag;
    return PETREL_OK;
}

const char *petrel__msg_prop(const petrel_msg_t *m, const char *name) {
    for (size_t i = 0; i < m->n_props; i++)
        if (strcmp(m->props[i].name, name) == 0) return m->props[i].value;
    return NULL;
}

const char *petrel_msg_topic(const petrel_msg_t *m) {
    return m ? m->topic : NULL;
}
const char *petrel_msg_tags(const petrel_msg_t *m) {
    return m ? petrel__msg_prop(m, PETREL_PROP_TAGS) : NULL;
}
const char *petrel_msg_keys(const petrel_msg_t *m) {
    return m ? petrel__msg_prop(m, PETREL_PROP_KEYS) : NULL;
}
const void *petrel_msg_body(const petrel_msg_t *m, size_t *len) {
    if (len) *len = m ? m->body_len : 0;
    return m ? m->body : NULL;
}
const char *petrel_msg_property(const petrel_msg_t *m, const char *name) {
    return m && name ? petrel__msg_prop(m, name) : NULL;
}
size_t petrel_msg_property_count(const petrel_msg_t *m) {
    return m ? m->n_props : 0;
}
petrel_err_t petrel_msg_property_at(const petrel_msg_t *m, size_t i, const char **name,
                                    const char **value) {
    if (!m || i >= m->n_props) return PETREL_EINVAL;
    if (name) *name = m->props[i].name;
    if (value) *value = m->props[i].value;
    return PETREL_OK;
}
int petrel_msg_delay_level(const petrel_msg_t *m) {
    const char *d = m ? petrel__msg_prop(m, PETREL_PROP_DELAY) : NULL;
    return d ? atoi(d) : 0;
}
int32_t petrel_msg_flag(const petrel_msg_t *m) {
    return m ? m->flag : 0;
}
const char *petrel_msg_id(const petrel_msg_t *m) {
    if (!m) return NULL;
    const char *u = petrel__msg_prop(m, PETREL_PROP_UNIQ_KEY);
    if (u) return u;
    return m->offset_id[0] ? m->offset_id : NULL;
}
const char *petrel_msg_offset_id(const petrel_msg_t *m) {
    return m && m->offset_id[0] ? m->offset_id : NULL;
}
const char *petrel_msg_broker_name(const petrel_msg_t *m) {
    return m && m->broker_name[0] ? m->broker_name : NULL;
}
int petrel_msg_queue_id(const petrel_msg_t *m) {
    return m ? m->queue_id : -1;
}
int64_t petrel_msg_queue_offset(const petrel_msg_t *m) {
    return m ? m->queue_offset : 0;
}
int64_t petrel_msg_commit_log_offset(const petrel_msg_t *m) {
    return m ? m->commit_log_offset : 0;
}
int petrel_msg_reconsume_times(const petrel_msg_t *m) {
    return m ? m->reconsume_times : 0;
}
int64_t petrel_msg_born_timestamp(const petrel_msg_t *m) {
    return m ? m->born_ts : 0;
}
int64_t petrel_msg_store_timestamp(const petrel_msg_t *m) {
    return m ? m->store_ts : 0;
}
const char *petrel_msg_born_host(const petrel_msg_t *m) {
    return m && m->born_host[0] ? m->born_host : NULL;
}
const char *petrel_msg_store_host(const petrel_msg_t *m) {
    return m && m->store_host[0] ? m->store_host : NULL;
}
int32_t petrel_msg_sys_flag(const petrel_msg_t *m) {
    return m ? m->sys_flag : 0;
}

void petrel__props_put(buf_t *out, const char *k, const char *v) {
    buf_append_str(out, k);
    buf_put_u8(out, 1);
    buf_append_str(out, v);
    buf_put_u8(out, 2);
}

void petrel__props_encode(const petrel_msg_t *m, buf_t *out) {
    for (size_t i = 0; i < m->n_props; i++)
        petrel__props_put(out, m->props[i].name, m->props[i].value);
}

/* ---- stored record decoding (storage-and-semantics 1.1) ------------------ */

/* Decimal digits of v at o (no NUL); returns the end. */
static char *put_u32(char *o, uint32_t v) {
    char t[10];
    int n = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *o++ = t[--n];
    return o;
}

/* "ip:port"; by hand for IPv4 (snprintf dominated decoding a message). */
static void host_text(const uint8_t *p, int v6, char *out, size_t outlen) {
    if (v6 || outlen < 27) { /* 27: "255.255.255.255:4294967295" */
        char ip[INET6_ADDRSTRLEN];
        inet_ntop(v6 ? AF_INET6 : AF_INET, p, ip, sizeof(ip));
        snprintf(out, outlen, "%s:%u", ip, be32_get(p + (v6 ? 16 : 4)));
        return;
    }
    char *o = out;
    for (int i = 0; i < 4; i++) {
        o = put_u32(o, p[i]);
        *o++ = i < 3 ? '.' : ':';
    }
    o = put_u32(o, be32_get(p + 4));
    *o = 0;
}

/* Bounded string copy (truncates, always terminates). */
static void copy_text(char *dst, size_t cap, const char *src) {
    size_t n = strnlen(src, cap - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

/* Where one stored record's parts are, and the decoded message's size. */
typedef struct rec_s {
    uint32_t total;
    int32_t sys;
    size_t bh, sh;
    const uint8_t *born, *store, *body, *topic, *props;
    int64_t store_ts, prep;
    int32_t reconsume;
    uint32_t blen;
    size_t tlen, plen, nprops;
    size_t need; /* bytes of the one allocation (struct, table, texts, plain body) */
} rec_t;

static petrel_err_t rec_parse(const uint8_t *p, size_t avail, rec_t *r) {
    if (avail < 4) return PETREL_EPROTO;
    uint32_t total = be32_get(p);
    if (total < 91 || total > avail) return PETREL_EPROTO;
    uint32_t magic = be32_get(p + 4);
    int v2 = magic == 0xDAA320ABu;
    if (!v2 && magic != 0xDAA320A7u) return PETREL_EPROTO;
    r->total = total;
    r->sys = (int32_t)be32_get(p + 36);
    r->bh = (r->sys & 0x10) ? 20 : 8;
    r->sh = (r->sys & 0x20) ? 20 : 8;
    size_t pos = 48;
    r->born = p + pos;
    pos += r->bh;
    if (pos + 8 + r->sh + 16 > total) return PETREL_EPROTO;
    r->store_ts = (int64_t)be64_get(p + pos);
    pos += 8;
    r->store = p + pos;
    pos += r->sh;
    r->reconsume = (int32_t)be32_get(p + pos);
    r->prep = (int64_t)be64_get(p + pos + 4);
    pos += 12;
    if (pos + 4 > total) return PETREL_EPROTO;
    r->blen = be32_get(p + pos);
    pos += 4;
    if (r->blen > total - pos) return PETREL_EPROTO;
    r->body = p + pos;
    pos += r->blen;
    size_t tl_size = v2 ? 2 : 1;
    if (pos + tl_size > total) return PETREL_EPROTO;
    r->tlen = v2 ? be16_get(p + pos) : p[pos];
    pos += tl_size;
    if (pos + r->tlen + 2 > total) return PETREL_EPROTO;
    r->topic = p + pos;
    pos += r->tlen;
    r->plen = be16_get(p + pos);
    pos += 2;
    if (pos + r->plen > total) return PETREL_EPROTO;
    r->props = p + pos;
    r->nprops = 1; /* a last item without a trailing separator */
    for (size_t i = 0; i < r->plen; i++)
        if (r->props[i] == 2) r->nprops++;
    size_t need = sizeof(petrel_msg_t) + r->nprops * sizeof(petrel__prop_t) + r->tlen + 1 +
                  r->plen + 1 + ((r->sys & 1) ? 0 : r->blen);
    r->need = (need + 15) & ~(size_t)15; /* slab slots stay aligned */
    return PETREL_OK;
}

/* A block holding the messages of one pull answer; freed with its last message. */
struct petrel__slab_s {
    _Atomic size_t refs;
    size_t pad_; /* keeps the slots 16-byte aligned */
};

void petrel__slab_open(petrel__slab_cur_t *sc, const uint8_t *p, size_t len) {
    memset(sc, 0, sizeof(*sc));
    size_t need = 0, pos = 0, n = 0;
    rec_t r;
    while (pos < len && rec_parse(p + pos, len - pos, &r) == PETREL_OK) {
        need += r.need;
        pos += r.total;
        n++;
    }
    if (n < 2) return; /* one message: its own allocation is as cheap */
    petrel__slab_t *sl = malloc(sizeof(*sl) + need);
    if (!sl) return;
    atomic_init(&sl->refs, 1);
    sc->slab = sl;
    sc->cur = (uint8_t *)(sl + 1);
    sc->end = sc->cur + need;
}

static void slab_unref(petrel__slab_t *sl) {
    if (sl && atomic_fetch_sub(&sl->refs, 1) == 1) free(sl);
}

void petrel__slab_close(petrel__slab_cur_t *sc) {
    slab_unref(sc->slab);
    memset(sc, 0, sizeof(*sc));
}

void petrel__msg_free_received(petrel_msg_t *m) {
    if (m->body_owned) free(m->body);
    if (m->slab)
        slab_unref(m->slab);
    else
        free(m);
}

petrel_err_t petrel__record_decode(const uint8_t *p, size_t avail, const char *broker_name,
                                   petrel_msg_t **out, size_t *used) {
    return petrel__record_decode_in(NULL, p, avail, broker_name, out, used);
}

petrel_err_t petrel__record_decode_in(petrel__slab_cur_t *sc, const uint8_t *p, size_t avail,
                                      const char *broker_name, petrel_msg_t **out, size_t *used) {
    rec_t r;
    petrel_err_t err = rec_parse(p, avail, &r);
    if (err != PETREL_OK) return err;
    petrel_msg_t *m;
    petrel__slab_t *slab = NULL;
    if (sc && sc->slab && (size_t)(sc->end - sc->cur) >= r.need) {
        m = (petrel_msg_t *)sc->cur;
        sc->cur += r.need;
        slab = sc->slab;
    } else {
        m = malloc(r.need);
        if (!m) return PETREL_ENOMEM;
    }
    memset(m, 0, sizeof(*m));
    m->received = 1;
    char *blk = (char *)(m + 1);
    m->props = (petrel__prop_t *)blk;
    blk += r.nprops * sizeof(petrel__prop_t);
    m->topic = blk;
    memcpy(blk, r.topic, r.tlen);
    blk[r.tlen] = 0;
    blk += r.tlen + 1;
    char *ptext = blk;
    memcpy(ptext, r.props, r.plen);
    ptext[r.plen] = 0;
    blk += r.plen + 1;
    /* Split "k\1v\2..." in place; skip items without a separator or with empty parts. */
    char *s = ptext, *end = ptext + r.plen;
    while (s < end) {
        char *e = memchr(s, 2, (size_t)(end - s));
        if (!e) e = end;
        *e = 0;
        char *sep = memchr(s, 1, (size_t)(e - s));
        if (sep && sep > s && sep + 1 < e) {
            *sep = 0;
            m->props[m->n_props].name = s;
            m->props[m->n_props].value = sep + 1;
            m->n_props++;
        }
        s = e + 1;
    }
    int32_t sys = r.sys;
    const uint8_t *body = r.body;
    uint32_t blen = r.blen;
    if (sys & 1) {
        int ctype = (sys >> 8) & 7;
        if ((ctype == 0 || ctype == 3) &&
            petrel__zlib_inflate(body, blen, &m->body, &m->body_len) == 0) {
            m->body_owned = 1;
        } else {
            PLOG_WARN("cannot inflate message body (compression type %d), delivering it raw",
                      ctype);
            m->body = malloc(blen ? blen : 1);
            if (!m->body) {
                if (!slab) free(m);
                return PETREL_ENOMEM;
            }
            memcpy(m->body, body, blen);
            m->body_len = blen;
            m->body_owned = 1;
        }
    } else {
        m->body = (uint8_t *)blk;
        memcpy(blk, body, blen);
        m->body_len = blen;
    }
    if (slab) {
        atomic_fetch_add(&slab->refs, 1);
        m->slab = slab;
    }
    const uint8_t *born = r.born, *store = r.store;
    size_t bh = r.bh, sh = r.sh;
    int64_t store_ts = r.store_ts, prep = r.prep;
    int32_t reconsume = r.reconsume;
    uint32_t total = r.total;
    m->queue_id = (int32_t)be32_get(p + 12);
    m->flag = (int32_t)be32_get(p + 16);
    m->queue_offset = (int64_t)be64_get(p + 20);
    m->commit_log_offset = (int64_t)be64_get(p + 28);
    m->sys_flag = sys;
    m->born_ts = (int64_t)be64_get(p + 40);
    m->store_ts = store_ts;
    m->reconsume_times = reconsume;
    m->prepared_tx_offset = prep;
    host_text(born, bh == 20, m->born_host, sizeof(m->born_host));
    host_text(store, sh == 20, m->store_host, sizeof(m->store_host));
    if (sh == 8) {
        petrel__offset_msg_id(store, (int32_t)be32_get(store + 4), m->commit_log_offset,
                              m->offset_id);
    } else {
        static const char hx[] = "0123456789ABCDEF";
        uint8_t raw[28];
        memcpy(raw, store, 20);
        be64_put(raw + 20, (uint64_t)m->commit_log_offset);
        for (int i = 0; i < 28; i++) {
            m->offset_id[2 * i] = hx[raw[i] >> 4];
            m->offset_id[2 * i + 1] = hx[raw[i] & 15];
        }
        m->offset_id[56] = 0;
    }
    if (broker_name) copy_text(m->broker_name, sizeof(m->broker_name), broker_name);
    const char *u = petrel__msg_prop(m, PETREL_PROP_UNIQ_KEY);
    copy_text(m->msg_id, sizeof(m->msg_id), u ? u : m->offset_id);
    *out = m;
    *used = total;
    return PETREL_OK;
}
