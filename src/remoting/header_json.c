/*
 * header_json: the JSON RemotingCommand header reader (serialize type 0).
 *
 * Hand-written because it runs for every request: one pass over the bytes,
 * strings unescaped straight into the caller's scratch area, no allocation.
 * Liberal in what it accepts (remoting-protocol.md 1.4, clients-on-the-wire):
 * any key order, unknown keys with any (nested) value, language as a name or
 * a number, extFields values as strings, numbers or booleans (kept as their
 * text), null values dropped, \uXXXX escapes and surrogate pairs. Wrong
 * types are reported after the whole object was read so that code and opaque
 * are known when they come later (the server can then answer the request).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "remoting/rm_internal.h"

#define MAX_DEPTH 64

typedef struct {
    const uint8_t *p;   /* next input byte */
    const uint8_t *end; /* end of the header */
    char *out;          /* next free scratch byte */
    char *err;          /* first error message goes here */
    size_t errlen;
    int failed;         /* an error was recorded */
    int syntax;         /* it was a syntax error: stop */
} jp_t;

static void fail(jp_t *j, int syntax, const char *fmt, const char *what) {
    if (!j->failed) {
        snprintf(j->err, j->errlen, fmt, what);
        j->failed = 1;
    }
    if (syntax) j->syntax = 1;
}

static inline void ws(jp_t *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

/* Nonzero with the lowest set bit in the first byte of w equal to b. */
static inline uint64_t has_byte(uint64_t w, uint8_t b) {
    uint64_t v = w ^ (0x0101010101010101ull * b);
    return (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;
}

static inline int hexval(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

static int hex4(jp_t *j, uint32_t *cp) {
    if (j->end - j->p < 4) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(j->p[i]);
        if (h < 0) return -1;
        v = (v << 4) | (uint32_t)h;
    }
    j->p += 4;
    *cp = v;
    return 0;
}

static char *put_utf8(char *o, uint32_t cp) {
    if (cp < 0x80) {
        *o++ = (char)cp;
    } else if (cp < 0x800) {
        *o++ = (char)(0xC0 | (cp >> 6));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *o++ = (char)(0xE0 | (cp >> 12));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *o++ = (char)(0xF0 | (cp >> 18));
        *o++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *o++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *o++ = (char)(0x80 | (cp & 0x3F));
    }
    return o;
}

/*
 * Reads a string (at '"') into the scratch area, NUL-terminated. The output
 * is never longer than the input (an escape of n bytes yields < n bytes), so
 * the scratch reservation of the caller always suffices.
 */
static int parse_string(jp_t *j, const char **s, uint32_t *len) {
    char *o = j->out, *start = o;
    j->p++; /* opening quote */
    for (;;) {
        const uint8_t *p = j->p, *e = j->end;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        /* 8 bytes at a time until a quote or backslash; the scratch area has
         * room for the whole-word stores (output never outruns input). */
        while (e - p >= 8) {
            uint64_t w, m;
            memcpy(&w, p, 8);
            memcpy(o, &w, 8);
            m = has_byte(w, '"') | has_byte(w, '\\');
            if (m) {
                size_t k = (size_t)__builtin_ctzll(m) >> 3;
                o += k;
                p += k;
                break;
            }
            o += 8;
            p += 8;
        }
#endif
        while (p < e && *p != '"' && *p != '\\') *o++ = (char)*p++;
        j->p = p;
        if (p >= j->end) {
            fail(j, 1, "%s", "unterminated string in JSON header");
            return -1;
        }
        if (*p == '"') {
            j->p++;
            break;
        }
        /* backslash */
        if (j->end - p < 2) {
            fail(j, 1, "%s", "unterminated escape in JSON header");
            return -1;
        }
        uint8_t c = p[1];
        j->p = p + 2;
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '/': *o++ = '/'; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(j, &cp) < 0) {
                fail(j, 1, "%s", "bad \\u escape in JSON header");
                return -1;
            }
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (j->end - j->p >= 6 && j->p[0] == '\\' && j->p[1] == 'u') {
                    const uint8_t *save = j->p;
                    j->p += 2;
                    if (hex4(j, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    } else {
                        j->p = save;
                        cp = 0xFFFD; /* lone high surrogate */
                    }
                } else {
                    cp = 0xFFFD;
                }
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                cp = 0xFFFD; /* lone low surrogate */
            }
            o = put_utf8(o, cp);
            break;
        }
        default:
            fail(j, 1, "%s", "bad escape in JSON header");
            return -1;
        }
    }
    *o++ = '\0';
    *s = start;
    *len = (uint32_t)(o - start - 1);
    j->out = o;
    return 0;
}

/* Validates a JSON number at j->p; sets *is_int when it has no fraction/exponent. */
static int scan_number(jp_t *j, const uint8_t **start, size_t *len, int *is_int) {
    const uint8_t *p = j->p, *e = j->end;
    *start = p;
    *is_int = 1;
    if (p < e && *p == '-') p++;
    if (p < e && *p == '0') {
        p++;
    } else if (p < e && *p >= '1' && *p <= '9') {
        while (p < e && *p >= '0' && *p <= '9') p++;
    } else {
        fail(j, 1, "%s", "bad number in JSON header");
        return -1;
    }
    if (p < e && *p == '.') {
        p++;
        *is_int = 0;
        if (!(p < e && *p >= '0' && *p <= '9')) {
            fail(j, 1, "%s", "bad number in JSON header");
            return -1;
        }
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        *is_int = 0;
        if (p < e && (*p == '+' || *p == '-')) p++;
        if (!(p < e && *p >= '0' && *p <= '9')) {
            fail(j, 1, "%s", "bad number in JSON header");
            return -1;
        }
        while (p < e && *p >= '0' && *p <= '9') p++;
    }
    *len = (size_t)(p - *start);
    j->p = p;
    return 0;
}

static int parse_lit(jp_t *j, const char *lit, size_t n) {
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0) {
        fail(j, 1, "%s", "invalid literal in JSON header");
        return -1;
    }
    j->p += n;
    return 0;
}

static int skip_value(jp_t *j, int depth);

static int skip_container(jp_t *j, int depth, uint8_t close, int keyed) {
    if (depth > MAX_DEPTH) {
        fail(j, 1, "%s", "JSON header nested too deeply");
        return -1;
    }
    j->p++;
    ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 0;
    }
    for (;;) {
        ws(j);
        if (keyed) {
            const char *s;
            uint32_t n;
            char *mark = j->out;
            if (j->p >= j->end || *j->p != '"') {
                fail(j, 1, "%s", "expected a key in JSON header");
                return -1;
            }
            if (parse_string(j, &s, &n) < 0) return -1;
            j->out = mark;
            ws(j);
            if (j->p >= j->end || *j->p != ':') {
                fail(j, 1, "%s", "expected ':' in JSON header");
                return -1;
            }
            j->p++;
            ws(j);
        }
        if (skip_value(j, depth + 1) < 0) return -1;
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == close) {
            j->p++;
            return 0;
        }
        fail(j, 1, "%s", "expected ',' or end of container in JSON header");
        return -1;
    }
}

static int skip_value(jp_t *j, int depth) {
    if (j->p >= j->end) {
        fail(j, 1, "%s", "truncated JSON header");
        return -1;
    }
    switch (*j->p) {
    case '"': {
        const char *s;
        uint32_t n;
        char *mark = j->out;
        int rc = parse_string(j, &s, &n);
        j->out = mark;
        return rc;
    }
    case '{': return skip_container(j, depth, '}', 1);
    case '[': return skip_container(j, depth, ']', 0);
    case 't': return parse_lit(j, "true", 4);
    case 'f': return parse_lit(j, "false", 5);
    case 'n': return parse_lit(j, "null", 4);
    default: {
        const uint8_t *s;
        size_t n;
        int is_int;
        return scan_number(j, &s, &n, &is_int);
    }
    }
}

/* An integer field (code, opaque, flag, version). 1 = set, 0 = wrong type (skipped), -1 = syntax. */
static int parse_i32_field(jp_t *j, const char *name, int32_t *out) {
    if (j->p < j->end && (*j->p == '-' || (*j->p >= '0' && *j->p <= '9'))) {
        const uint8_t *s;
        size_t n;
        int is_int;
        if (scan_number(j, &s, &n, &is_int) < 0) return -1;
        if (!is_int || n > 11) goto range;
        int neg = *s == '-';
        int64_t v = 0;
        for (size_t i = (size_t)neg; i < n; i++) v = v * 10 + (s[i] - '0');
        if (neg) v = -v;
        if (v < INT32_MIN || v > INT32_MAX) goto range;
        *out = (int32_t)v;
        return 1;
    range:
        fail(j, 0, "JSON header field %s is not a 32-bit integer", name);
        return 0;
    }
    if (skip_value(j, 1) < 0) return -1;
    fail(j, 0, "JSON header field %s is not a number", name);
    return 0;
}

static int parse_ext(jp_t *j, rm_cmd_t *cmd) {
    j->p++; /* '{' */
    ws(j);
    if (j->p < j->end && *j->p == '}') {
        j->p++;
        return 0;
    }
    for (;;) {
        ws(j);
        if (j->p >= j->end || *j->p != '"') {
            fail(j, 1, "%s", "expected a key in extFields");
            return -1;
        }
        char *mark = j->out;
        const char *key, *val = NULL;
        uint32_t klen, vlen = 0;
        if (parse_string(j, &key, &klen) < 0) return -1;
        ws(j);
        if (j->p >= j->end || *j->p != ':') {
            fail(j, 1, "%s", "expected ':' in extFields");
            return -1;
        }
        j->p++;
        ws(j);
        if (j->p >= j->end) {
            fail(j, 1, "%s", "truncated JSON header");
            return -1;
        }
        uint8_t c = *j->p;
        if (c == '"') {
            if (parse_string(j, &val, &vlen) < 0) return -1;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            const uint8_t *s;
            size_t n;
            int is_int;
            if (scan_number(j, &s, &n, &is_int) < 0) return -1;
            memcpy(j->out, s, n);
            j->out[n] = '\0';
            val = j->out;
            vlen = (uint32_t)n;
            j->out += n + 1;
        } else if (c == 't' || c == 'f') {
            const char *lit = c == 't' ? "true" : "false";
            size_t n = c == 't' ? 4 : 5;
            if (parse_lit(j, lit, n) < 0) return -1;
            memcpy(j->out, lit, n + 1);
            val = j->out;
            vlen = (uint32_t)n;
            j->out += n + 1;
        } else {
            /* null (absent) or a nested value nobody sends: drop the entry */
            if (skip_value(j, 1) < 0) return -1;
        }
        if (val) {
            if (cmd->ext_count < RM_MAX_EXT) {
                rm_ext_t *x = &cmd->ext[cmd->ext_count++];
                x->key = key;
                x->val = val;
                x->vlen = vlen;
            } else {
                fail(j, 0, "%s", "too many extFields");
                j->out = mark;
            }
        } else {
            j->out = mark;
        }
        ws(j);
        if (j->p < j->end && *j->p == ',') {
            j->p++;
            continue;
        }
        if (j->p < j->end && *j->p == '}') {
            j->p++;
            return 0;
        }
        fail(j, 1, "%s", "expected ',' or '}' in extFields");
        return -1;
    }
}

static inline int key_is(const char *k, uint32_t n, const char *lit, uint32_t ln) {
    return n == ln && memcmp(k, lit, n) == 0;
}
#define KEY_IS(lit) key_is(key, klen, lit, (uint32_t)sizeof(lit) - 1)

rm_status_t rm__decode_json(const uint8_t *h, uint32_t hlen, char *out, rm_cmd_t *cmd, char *err,
                            size_t errlen) {
    jp_t j = {h, h + hlen, out, err, errlen, 0, 0};
    int have_code = 0, have_opaque = 0;
    cmd->language = LANG_OTHER;
    ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        fail(&j, 1, "%s", "JSON header is not an object");
        goto done;
    }
    j.p++;
    ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto tail;
    }
    for (;;) {
        ws(&j);
        if (j.p >= j.end || *j.p != '"') {
            fail(&j, 1, "%s", "expected a key in JSON header");
            goto done;
        }
        const char *key;
        uint32_t klen;
        char *mark = j.out;
        if (parse_string(&j, &key, &klen) < 0) goto done;
        j.out = mark; /* key text stays readable until the next write */
        ws(&j);
        if (j.p >= j.end || *j.p != ':') {
            fail(&j, 1, "%s", "expected ':' in JSON header");
            goto done;
        }
        j.p++;
        ws(&j);
        if (j.p >= j.end) {
            fail(&j, 1, "%s", "truncated JSON header");
            goto done;
        }
        int rc = 0;
        /* keys are compared before anything is written over them */
        if (KEY_IS("code")) {
            rc = parse_i32_field(&j, "code", &cmd->code);
            if (rc > 0) have_code = 1;
        } else if (KEY_IS("opaque")) {
            rc = parse_i32_field(&j, "opaque", &cmd->opaque);
            if (rc > 0) have_opaque = 1;
        } else if (KEY_IS("flag")) {
            rc = parse_i32_field(&j, "flag", &cmd->flag);
        } else if (KEY_IS("version")) {
            rc = parse_i32_field(&j, "version", &cmd->version);
        } else if (KEY_IS("language")) {
            if (*j.p == '"') {
                const char *s;
                uint32_t n;
                char *m2 = j.out;
                rc = parse_string(&j, &s, &n);
                if (rc == 0) {
                    int l = rm_language_from_name(s, n);
                    cmd->language = (uint8_t)(l < 0 ? LANG_OTHER : l);
                }
                j.out = m2;
            } else if (*j.p == 'n') {
                rc = parse_lit(&j, "null", 4);
            } else {
                int32_t l = LANG_OTHER;
                rc = parse_i32_field(&j, "language", &l);
                cmd->language = (uint8_t)((l < 0 || l > 255) ? LANG_OTHER : l);
            }
        } else if (KEY_IS("remark")) {
            if (*j.p == '"') {
                const char *s;
                uint32_t n;
                rc = parse_string(&j, &s, &n);
                cmd->remark = (rc == 0 && n > 0) ? s : NULL;
            } else if (*j.p == 'n') {
                rc = parse_lit(&j, "null", 4);
            } else {
                rc = skip_value(&j, 1);
                fail(&j, 0, "%s", "JSON header field remark is not a string");
            }
        } else if (KEY_IS("extFields")) {
            if (*j.p == '{') {
                rc = parse_ext(&j, cmd);
            } else if (*j.p == 'n') {
                rc = parse_lit(&j, "null", 4);
            } else {
                rc = skip_value(&j, 1);
                fail(&j, 0, "%s", "JSON header field extFields is not an object");
            }
        } else {
            rc = skip_value(&j, 1); /* serializeTypeCurrentRPC and anything unknown */
        }
        if (rc < 0 || j.syntax) goto done;
        ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            break;
        }
        fail(&j, 1, "%s", j.p >= j.end ? "truncated JSON header" : "expected ',' or '}' in JSON header");
        goto done;
    }
tail:
    ws(&j);
    if (j.p != j.end) fail(&j, 1, "%s", "trailing bytes after the JSON header");
    if (!have_code) fail(&j, 0, "%s", "JSON header has no code");
done:
    if (!j.failed) return RM_OK;
    return (have_code && have_opaque) ? RM_EHEADER_REPLY : RM_EHEADER;
}
