/*
 * sql92: compiler and evaluator for RocketMQ's SQL92 message selectors.
 *
 * The grammar and the runtime type rules mirror RocketMQ's filter module
 * (SelectorParser.jj, ComparisonExpression, UnaryExpression,
 * LogicExpression): same precedence (unary NOT binds tighter than
 * comparisons), same compile-time operand checks, same Java value types
 * (Integer/Long/Double/String/Boolean) and conversions, and the same rule
 * that any runtime error aborts the whole evaluation (= no match).
 *
 * Compiled form: a flat node array (children by index), AND/OR chains
 * flattened into n-ary nodes (same short-circuit order), strings in one pool,
 * distinct property names in a key table. Evaluation scans the properties
 * string once into per-key slots on the stack, then walks the tree.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE /* memmem */
#include "filter/sql92.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

/* ---------------------------------------------------------------- values */

/* Java runtime types of selector values. */
enum { T_NULL, T_BOOL, T_INT, T_LONG, T_DOUBLE, T_STR };

typedef struct {
    int t;
    union {
        int64_t i; /* T_BOOL (0/1), T_INT, T_LONG */
        double d;
        struct {
            const char *p;
            size_t n;
        } s;
    } u;
} val_t;

/* ---------------------------------------------------------- compiled form */

enum {
    OP_CONST,
    OP_PROP,
    OP_NEG,
    OP_NOT,
    OP_BOOLCAST, /* a property used where a boolean is expected */
    OP_AND,
    OP_OR,
    OP_EQ,
    OP_ISNULL,
    OP_GT,
    OP_GE,
    OP_LT,
    OP_LE,
    OP_IN,
    OP_CONTAINS,
    OP_STARTSWITH,
    OP_ENDSWITH,
};

typedef struct {
    uint32_t off, len;
} str_t;

/*
 * CONST: ctype, k (numbers/bools) or a = string index. PROP: a = key index.
 * NEG/NOT/BOOLCAST/ISNULL: a = child. AND/OR: kids[a .. a+b). EQ/GT/GE/LT/LE:
 * a, b. IN: a = child, strs[b .. b+c) (sorted when c > IN_LINEAR).
 * CONTAINS/STARTSWITH/ENDSWITH: a = child, b = string index. neg = NOT form.
 */
typedef struct {
    uint8_t op;
    uint8_t neg;
    uint8_t ctype;
    uint16_t depth;
    uint32_t col; /* 0-based offset of the node's first token */
    uint32_t a, b, c;
    union {
        int64_t i;
        double d;
    } k;
} node_t;

#define IN_LINEAR 8
#define SLOTS_MAX 32
#define MAX_NEST 100

struct sql92_expr_s {
    char *text;
    node_t *nodes;
    uint32_t nnodes, capnodes;
    uint32_t *kids;
    uint32_t nkids, capkids;
    str_t *strs;
    uint32_t nstrs, capstrs;
    char *pool;
    uint32_t npool, cappool;
    uint32_t *keys; /* string index of each distinct property name */
    uint32_t nkeys, capkeys;
    int64_t tags_key;        /* key index of "TAGS", or -1 */
    uint64_t first_bytes[4]; /* bitmap of the first bytes of slotted keys */
    uint32_t root;
};

#define GROW(arr, n, cap, extra)                                                                   \
    do {                                                                                           \
        while ((size_t)(n) + (extra) > (cap)) {                                                    \
            (cap) = (cap) ? (cap)*2 : 16;                                                          \
            (arr) = xrealloc((arr), (size_t)(cap) * sizeof(*(arr)));                               \
        }                                                                                          \
    } while (0)

/* --------------------------------------------------- Java conversions */

static int is_digit(int c) {
    return c >= '0' && c <= '9';
}
static int is_hex(int c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Integer.parseInt / Long.parseLong (radix 10, ASCII digits). */
static int java_parse_integral(const char *s, size_t n, int64_t min, int64_t max, int64_t *out) {
    size_t i = 0;
    int neg = 0;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == n) return -1;
    uint64_t limit = neg ? (uint64_t)0 - (uint64_t)min : (uint64_t)max;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (!is_digit((unsigned char)s[i])) return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (limit - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
    return 0;
}

/* Double.valueOf: trimmed; [+-] then NaN | Infinity | decimal | hex float, optional [fFdD]. */
static int java_parse_double(const char *s, size_t n, double *out) {
    size_t a = 0, b = n;
    while (a < b && (unsigned char)s[a] <= ' ')
        a++;
    while (b > a && (unsigned char)s[b - 1] <= ' ')
        b--;
    size_t i = a;
    int neg = 0;
    if (i < b && (s[i] == '+' || s[i] == '-')) {
        neg = s[i] == '-';
        i++;
    }
    if (b - i == 3 && memcmp(s + i, "NaN", 3) == 0) {
        *out = NAN;
        return 0;
    }
    if (b - i == 8 && memcmp(s + i, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return 0;
    }
    size_t j = i, digits = 0;
    if (j + 1 < b && s[j] == '0' && (s[j + 1] == 'x' || s[j + 1] == 'X')) {
        j += 2;
        for (; j < b && is_hex((unsigned char)s[j]); j++)
            digits++;
        if (j < b && s[j] == '.')
            for (j++; j < b && is_hex((unsigned char)s[j]); j++)
                digits++;
        if (!digits || j >= b || (s[j] != 'p' && s[j] != 'P')) return -1;
        j++;
        if (j < b && (s[j] == '+' || s[j] == '-')) j++;
        if (j >= b || !is_digit((unsigned char)s[j])) return -1;
        while (j < b && is_digit((unsigned char)s[j]))
            j++;
    } else {
        for (; j < b && is_digit((unsigned char)s[j]); j++)
            digits++;
        if (j < b && s[j] == '.')
            for (j++; j < b && is_digit((unsigned char)s[j]); j++)
                digits++;
        if (!digits) return -1;
        if (j < b && (s[j] == 'e' || s[j] == 'E')) {
            j++;
            if (j < b && (s[j] == '+' || s[j] == '-')) j++;
            if (j >= b || !is_digit((unsigned char)s[j])) return -1;
            while (j < b && is_digit((unsigned char)s[j]))
                j++;
        }
    }
    size_t end = j;
    if (j < b && (s[j] == 'f' || s[j] == 'F' || s[j] == 'd' || s[j] == 'D')) j++;
    if (j != b) return -1;
    char buf[512];
    if (end - a >= sizeof(buf)) return -1; /* absurdly long numerals: treated as not a number */
    memcpy(buf, s + a, end - a);
    buf[end - a] = '\0';
    *out = strtod(buf, NULL);
    return 0;
}

/* Boolean.valueOf(String). */
static int java_bool_of(const char *s, size_t n) {
    return n == 4 && (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' && (s[2] | 0x20) == 'u' &&
           (s[3] | 0x20) == 'e';
}

static int to_number(val_t *v, int type) {
    if (v->t == T_STR) {
        if (type == T_DOUBLE) {
            double d;
            if (java_parse_double(v->u.s.p, v->u.s.n, &d) < 0) return -1;
            v->u.d = d;
        } else {
            int64_t x;
            int64_t min = type == T_INT ? INT32_MIN : INT64_MIN;
            int64_t max = type == T_INT ? INT32_MAX : INT64_MAX;
            if (java_parse_integral(v->u.s.p, v->u.s.n, min, max, &x) < 0) return -1;
            v->u.i = x;
        }
    } else if (type == T_DOUBLE && (v->t == T_INT || v->t == T_LONG)) {
        v->u.d = (double)v->u.i;
    }
    v->t = type;
    return 0;
}

/* Double.compare: -0.0 < 0.0, NaN equal to itself and above everything. */
static int java_double_cmp(double x, double y) {
    if (x < y) return -1;
    if (x > y) return 1;
    int64_t bx, by;
    if (isnan(x)) x = NAN;
    if (isnan(y)) y = NAN;
    memcpy(&bx, &x, 8);
    memcpy(&by, &y, 8);
    return bx == by ? 0 : (bx < by ? -1 : 1);
}

/*
 * ComparisonExpression.__compare with string conversion on: converts the
 * operands to a common type (strings are parsed as the other side's type),
 * then compares. Returns -1 where Java throws (bad number, Boolean vs String).
 * Converts *l and *r in place.
 */
static int java_compare(val_t *l, val_t *r, int *cmp) {
    if (l->t != r->t) {
        int rc = 0;
        switch (l->t) {
        case T_BOOL:
            if (r->t == T_STR) return -1; /* ClassCastException in Java */
            *cmp = -1;
            return 0;
        case T_INT:
            if (r->t == T_LONG)
                l->t = T_LONG;
            else if (r->t == T_DOUBLE)
                rc = to_number(l, T_DOUBLE);
            else if (r->t == T_STR)
                rc = to_number(r, T_INT);
            else {
                *cmp = -1;
                return 0;
            }
            break;
        case T_LONG:
            if (r->t == T_INT)
                r->t = T_LONG;
            else if (r->t == T_DOUBLE)
                rc = to_number(l, T_DOUBLE);
            else if (r->t == T_STR)
                rc = to_number(r, T_LONG);
            else {
                *cmp = -1;
                return 0;
            }
            break;
        case T_DOUBLE:
            if (r->t == T_INT || r->t == T_LONG || r->t == T_STR)
                rc = to_number(r, T_DOUBLE);
            else {
                *cmp = -1;
                return 0;
            }
            break;
        case T_STR:
            if (r->t == T_BOOL) {
                l->u.i = java_bool_of(l->u.s.p, l->u.s.n);
                l->t = T_BOOL;
            } else if (r->t == T_INT || r->t == T_LONG || r->t == T_DOUBLE) {
                rc = to_number(l, r->t);
            } else {
                *cmp = -1;
                return 0;
            }
            break;
        default:
            *cmp = -1;
            return 0;
        }
        if (rc < 0) return -1;
    }
    switch (l->t) {
    case T_BOOL:
    case T_INT:
    case T_LONG:
        *cmp = (l->u.i > r->u.i) - (l->u.i < r->u.i);
        return 0;
    case T_DOUBLE:
        *cmp = java_double_cmp(l->u.d, r->u.d);
        return 0;
    case T_STR: {
        size_t m = l->u.s.n < r->u.s.n ? l->u.s.n : r->u.s.n;
        int c = m ? memcmp(l->u.s.p, r->u.s.p, m) : 0;
        if (c == 0) c = (l->u.s.n > r->u.s.n) - (l->u.s.n < r->u.s.n);
        *cmp = (c > 0) - (c < 0);
        return 0;
    }
    default:
        *cmp = 0;
        return 0;
    }
}

/* ------------------------------------------------------------ evaluation */

typedef struct {
    const char *p; /* NULL: absent */
    size_t n;
} slot_t;

typedef struct {
    const sql92_expr_t *e;
    const char *props;
    size_t plen;
    const char *tags;
    size_t tlen;
    uint32_t nslots;
    slot_t slots[SLOTS_MAX];
} ctx_t;

/* Runs the body for each well-formed item as MessageDecoder.string2messageProperties accepts it. */
#define FOR_EACH_PROP(props, plen, KEY, KL, VAL, VL, ...)                                          \
    do {                                                                                           \
        const char *s_ = (props), *end_ = (props) + (plen);                                        \
        while (s_ < end_) {                                                                        \
            const char *ie_ = memchr(s_, 2, (size_t)(end_ - s_));                                  \
            if (!ie_) ie_ = end_;                                                                  \
            const char *kv_ = memchr(s_, 1, (size_t)(ie_ - s_));                                   \
            if (kv_ && kv_ > s_ && kv_ < ie_ - 1) {                                                \
                const char *KEY = s_, *VAL = kv_ + 1;                                              \
                size_t KL = (size_t)(kv_ - s_), VL = (size_t)(ie_ - kv_ - 1);                      \
                __VA_ARGS__                                                                        \
            }                                                                                      \
            s_ = ie_ + 1;                                                                          \
        }                                                                                          \
    } while (0)

static int bytes_eq(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define SWAR 1
#endif

/* Last 0x02 in [start, e), or NULL; eight bytes at a time from the end. */
static const unsigned char *find_prev_sep(const unsigned char *start, const unsigned char *e) {
#ifdef SWAR
    while (e - start >= 8) {
        uint64_t w;
        memcpy(&w, e - 8, 8);
        w ^= 2 * ONES;
        /* exact zero-byte mask (no borrow false positives, which the highest bit would see) */
        uint64_t z = ~(((w & ~HIGHS) + ~HIGHS) | w | ~HIGHS);
        if (z) return e - 8 + ((63 - __builtin_clzll(z)) >> 3);
        e -= 8;
    }
#endif
    while (e > start)
        if (*--e == 2) return e;
    return NULL;
}

/*
 * Fills the slots with one backward pass over props, so the first valid item
 * seen for a key is the one Java keeps (its HashMap keeps the last) and the
 * scan stops once every key is found. Only item boundaries (0x02) are
 * searched; an item is compared only when its first byte starts some key
 * (keys never contain 0x01/0x02, so "key 0x01" is compared in place).
 */
static void prescan(ctx_t *c) {
    const sql92_expr_t *e = c->e;
    uint32_t ns = c->nslots, left = ns;
    for (uint32_t k = 0; k < ns; k++)
        c->slots[k].p = NULL;
    if (ns == 0 || c->plen == 0) return;
    const unsigned char *start = (const unsigned char *)c->props, *ie = start + c->plen;
    for (;;) {
        const unsigned char *sep = find_prev_sep(start, ie);
        const unsigned char *st = sep ? sep + 1 : start;
        if (ie - st >= 3 && (e->first_bytes[*st >> 6] >> (*st & 63) & 1)) {
            size_t il = (size_t)(ie - st);
            for (uint32_t k = 0; k < ns; k++) {
                const str_t *ks = &e->strs[e->keys[k]];
                size_t kl = ks->len;
                /* Java skips items with an empty key or value. */
                if (!c->slots[k].p && il > kl + 1 && st[kl] == 1 &&
                    bytes_eq(e->pool + ks->off, (const char *)st, kl)) {
                    c->slots[k].p = (const char *)st + kl + 1;
                    c->slots[k].n = il - kl - 1;
                    if (--left == 0) return;
                    break;
                }
            }
        }
        if (!sep) return;
        ie = sep;
    }
}

static void lookup(const ctx_t *c, uint32_t key, val_t *out) {
    const sql92_expr_t *e = c->e;
    out->t = T_NULL;
    if ((int64_t)key == e->tags_key && c->tags) {
        out->t = T_STR;
        out->u.s.p = c->tags;
        out->u.s.n = c->tlen;
        return;
    }
    if (key < c->nslots) {
        if (c->slots[key].p) {
            out->t = T_STR;
            out->u.s.p = c->slots[key].p;
            out->u.s.n = c->slots[key].n;
        }
        return;
    }
    const str_t *ks = &e->strs[e->keys[key]];
    const char *name = e->pool + ks->off;
    if (!c->props) return;
    FOR_EACH_PROP(c->props, c->plen, k2, kl, val, vl, {
        if (kl == ks->len && memcmp(k2, name, kl) == 0) {
            out->t = T_STR;
            out->u.s.p = val;
            out->u.s.n = vl;
        }
    });
}

static int str_in_list(const sql92_expr_t *e, const node_t *nd, const char *s, size_t n) {
    const str_t *list = &e->strs[nd->b];
    uint32_t cnt = nd->c;
    if (cnt <= IN_LINEAR) {
        for (uint32_t i = 0; i < cnt; i++)
            if (list[i].len == n && memcmp(e->pool + list[i].off, s, n) == 0) return 1;
        return 0;
    }
    uint32_t lo = 0, hi = cnt; /* sorted by (len, bytes) */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c;
        if (list[mid].len != n)
            c = list[mid].len < n ? -1 : 1;
        else
            c = memcmp(e->pool + list[mid].off, s, n);
        if (c == 0) return 1;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return 0;
}

static void set_bool(val_t *v, int b) {
    v->t = T_BOOL;
    v->u.i = b != 0;
}

static int eval(const ctx_t *c, uint32_t n, val_t *out);

/* Leaves (properties, constants) without the recursive call: most operands are leaves. */
static inline int operand(const ctx_t *c, uint32_t n, val_t *out) {
    const sql92_expr_t *e = c->e;
    const node_t *nd = &e->nodes[n];
    if (nd->op == OP_PROP) {
        lookup(c, nd->a, out);
        return 0;
    }
    if (nd->op == OP_CONST) {
        out->t = nd->ctype;
        if (nd->ctype == T_STR) {
            out->u.s.p = e->pool + e->strs[nd->a].off;
            out->u.s.n = e->strs[nd->a].len;
        } else if (nd->ctype == T_DOUBLE) {
            out->u.d = nd->k.d;
        } else {
            out->u.i = nd->k.i;
        }
        return 0;
    }
    return eval(c, n, out);
}

/* Evaluates node n. Returns 0, or -1 where Java throws (the whole match then fails). */
static int eval(const ctx_t *c, uint32_t n, val_t *out) {
    const sql92_expr_t *e = c->e;
    const node_t *nd = &e->nodes[n];
    val_t l, r;
    switch (nd->op) {
    case OP_CONST:
        out->t = nd->ctype;
        if (nd->ctype == T_STR) {
            const str_t *s = &e->strs[nd->a];
            out->u.s.p = e->pool + s->off;
            out->u.s.n = s->len;
        } else if (nd->ctype == T_DOUBLE) {
            out->u.d = nd->k.d;
        } else {
            out->u.i = nd->k.i;
        }
        return 0;
    case OP_PROP:
        lookup(c, nd->a, out);
        return 0;
    case OP_NEG:
        if (operand(c, nd->a, &l) < 0) return -1;
        out->t = l.t;
        if (l.t == T_INT)
            out->u.i = (int32_t)(0u - (uint32_t)l.u.i);
        else if (l.t == T_LONG)
            out->u.i = (int64_t)(0 - (uint64_t)l.u.i);
        else if (l.t == T_DOUBLE)
            out->u.d = -l.u.d;
        else
            out->t = T_NULL; /* not a number: null */
        return 0;
    case OP_NOT:
        if (operand(c, nd->a, &l) < 0) return -1;
        if (l.t == T_NULL) {
            out->t = T_NULL;
            return 0;
        }
        if (l.t != T_BOOL) return -1;
        set_bool(out, !l.u.i);
        return 0;
    case OP_BOOLCAST:
        if (operand(c, nd->a, &l) < 0) return -1;
        if (l.t == T_NULL)
            out->t = T_NULL;
        else
            set_bool(out, l.t == T_BOOL && l.u.i);
        return 0;
    case OP_AND:
    case OP_OR: {
        int stop = nd->op == OP_OR; /* the value that decides the result */
        int saw_null = 0;
        for (uint32_t i = 0; i < nd->b; i++) {
            if (eval(c, e->kids[nd->a + i], &l) < 0) return -1;
            if (l.t == T_NULL) {
                saw_null = 1;
            } else if (l.t != T_BOOL) {
                return -1;
            } else if ((int)l.u.i == stop) {
                set_bool(out, stop);
                return 0;
            }
        }
        if (saw_null)
            out->t = T_NULL;
        else
            set_bool(out, !stop);
        return 0;
    }
    case OP_EQ: {
        if (operand(c, nd->a, &l) < 0 || operand(c, nd->b, &r) < 0) return -1;
        if ((l.t == T_NULL) != (r.t == T_NULL)) {
            if (l.t == T_NULL)
                out->t = T_NULL;
            else
                set_bool(out, 0);
            return 0;
        }
        if (l.t == T_NULL) {
            set_bool(out, 1);
            return 0;
        }
        int cmp;
        if (java_compare(&l, &r, &cmp) < 0) return -1;
        set_bool(out, cmp == 0);
        return 0;
    }
    case OP_ISNULL:
        if (operand(c, nd->a, &l) < 0) return -1;
        set_bool(out, l.t == T_NULL);
        return 0;
    case OP_GT:
    case OP_GE:
    case OP_LT:
    case OP_LE: {
        int cmp;
        if (operand(c, nd->a, &l) < 0) return -1;
        if (l.t == T_NULL) {
            out->t = T_NULL;
            return 0;
        }
        if (operand(c, nd->b, &r) < 0) return -1;
        if (r.t == T_NULL) {
            out->t = T_NULL;
            return 0;
        }
        if (l.t == T_STR && r.t == T_STR) {
            /* Two strings are only ordered as doubles; otherwise Java throws. */
            if (to_number(&l, T_DOUBLE) < 0 || to_number(&r, T_DOUBLE) < 0) return -1;
            cmp = java_double_cmp(l.u.d, r.u.d);
        } else if (java_compare(&l, &r, &cmp) < 0) {
            return -1;
        }
        switch (nd->op) {
        case OP_GT:
            set_bool(out, cmp > 0);
            break;
        case OP_GE:
            set_bool(out, cmp >= 0);
            break;
        case OP_LT:
            set_bool(out, cmp < 0);
            break;
        default:
            set_bool(out, cmp <= 0);
            break;
        }
        return 0;
    }
    case OP_IN:
        if (operand(c, nd->a, &l) < 0) return -1;
        if (l.t != T_STR) {
            out->t = T_NULL;
            return 0;
        }
        set_bool(out, str_in_list(e, nd, l.u.s.p, l.u.s.n) ^ nd->neg);
        return 0;
    case OP_CONTAINS:
    case OP_STARTSWITH:
    case OP_ENDSWITH: {
        const str_t *ss = &e->strs[nd->b];
        const char *pat = e->pool + ss->off;
        size_t pn = ss->len;
        if (pn == 0) { /* Java checks the empty pattern before evaluating the operand */
            set_bool(out, 0);
            return 0;
        }
        if (operand(c, nd->a, &l) < 0) return -1;
        if (l.t != T_STR) { /* null or not a string: FALSE, also for the NOT forms */
            set_bool(out, 0);
            return 0;
        }
        int hit = 0;
        if (pn <= l.u.s.n) {
            if (nd->op == OP_STARTSWITH)
                hit = memcmp(l.u.s.p, pat, pn) == 0;
            else if (nd->op == OP_ENDSWITH)
                hit = memcmp(l.u.s.p + l.u.s.n - pn, pat, pn) == 0;
            else
                hit = memmem(l.u.s.p, l.u.s.n, pat, pn) != NULL;
        }
        set_bool(out, hit ^ nd->neg);
        return 0;
    }
    default:
        return -1;
    }
}

int sql92_match_tags(const sql92_expr_t *e, const char *props, size_t props_len, const char *tags,
                     size_t tags_len) {
    ctx_t c;
    c.e = e;
    c.props = props;
    c.plen = props ? props_len : 0;
    c.tags = tags;
    c.tlen = tags_len;
    c.nslots = e->nkeys < SLOTS_MAX ? e->nkeys : SLOTS_MAX;
    prescan(&c);
    val_t v;
    if (eval(&c, e->root, &v) < 0) return 0;
    return v.t == T_BOOL && v.u.i;
}

int sql92_match(const sql92_expr_t *e, const char *props, size_t props_len) {
    return sql92_match_tags(e, props, props_len, NULL, 0);
}

/* --------------------------------------------------------------- lexer */

enum {
    TK_EOF,
    TK_ERR,
    TK_ID,
    TK_INT,
    TK_FLOAT,
    TK_STR,
    TK_LP,
    TK_RP,
    TK_COMMA,
    TK_EQ,
    TK_NE,
    TK_GT,
    TK_GE,
    TK_LT,
    TK_LE,
    TK_PLUS,
    TK_MINUS,
    KW_NOT,
    KW_AND,
    KW_OR,
    KW_BETWEEN,
    KW_IN,
    KW_TRUE,
    KW_FALSE,
    KW_NULL,
    KW_IS,
    KW_CONTAINS,
    KW_STARTSWITH,
    KW_ENDSWITH,
};

static const struct {
    const char *word;
    int kind;
} keywords[] = {
    {"NOT", KW_NOT},
    {"AND", KW_AND},
    {"OR", KW_OR},
    {"BETWEEN", KW_BETWEEN},
    {"IN", KW_IN},
    {"TRUE", KW_TRUE},
    {"FALSE", KW_FALSE},
    {"NULL", KW_NULL},
    {"IS", KW_IS},
    {"CONTAINS", KW_CONTAINS},
    {"STARTSWITH", KW_STARTSWITH},
    {"ENDSWITH", KW_ENDSWITH},
};

typedef struct {
    int kind;
    size_t start, end;
} token_t;

typedef struct {
    const char *src;
    size_t len;
    token_t tok;  /* current token */
    token_t prev; /* last consumed token */
    size_t next_pos;
    sql92_expr_t *e;
    char msg[256];
    int failed;
    int nest;
    unsigned flags; /* SQL92_LENIENT */
} parser_t;

static void perr(parser_t *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void perr(parser_t *p, size_t pos, const char *fmt, ...) {
    if (p->failed) return;
    p->failed = 1;
    int n = snprintf(p->msg, sizeof(p->msg), "SQL92 syntax error at column %zu: ", pos + 1);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->msg + n, sizeof(p->msg) - (size_t)n, fmt, ap);
    va_end(ap);
}

static int is_id_start(int c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$';
}
static int is_id_part(int c) {
    return is_id_start(c) || is_digit(c);
}

/* Lexes the token at pos into *t; returns the position after it. */
static size_t lex(parser_t *p, size_t pos, token_t *t) {
    const char *s = p->src;
    size_t n = p->len;
    for (;;) {
        while (pos < n && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r' ||
                           s[pos] == '\f'))
            pos++;
        /* "--" to end of line (or input; RocketMQ needs the newline: lenient mode follows it) */
        if (pos + 1 < n && s[pos] == '-' && s[pos + 1] == '-' &&
            (!(p->flags & SQL92_LENIENT) || memchr(s + pos, '\n', n - pos) ||
             memchr(s + pos, '\r', n - pos))) {
            while (pos < n && s[pos] != '\n' && s[pos] != '\r')
                pos++;
            continue;
        }
        if (pos + 1 < n && s[pos] == '/' && s[pos + 1] == '*') {
            const char *end = pos + 2 < n ? memmem(s + pos + 2, n - pos - 2, "*/", 2) : NULL;
            if (!end) {
                perr(p, pos, "unterminated comment");
                t->kind = TK_ERR;
                t->start = t->end = pos;
                return n;
            }
            pos = (size_t)(end - s) + 2;
            continue;
        }
        break;
    }
    t->start = pos;
    if (pos >= n) {
        t->kind = TK_EOF;
        t->end = pos;
        return pos;
    }
    unsigned char ch = (unsigned char)s[pos];
    size_t q = pos + 1;
    switch (ch) {
    case '(':
        t->kind = TK_LP;
        break;
    case ')':
        t->kind = TK_RP;
        break;
    case ',':
        t->kind = TK_COMMA;
        break;
    case '=':
        t->kind = TK_EQ;
        break;
    case '+':
        t->kind = TK_PLUS;
        break;
    case '-':
        t->kind = TK_MINUS;
        break;
    case '>':
        t->kind = TK_GT;
        if (q < n && s[q] == '=') t->kind = TK_GE, q++;
        break;
    case '<':
        t->kind = TK_LT;
        if (q < n && s[q] == '=')
            t->kind = TK_LE, q++;
        else if (q < n && s[q] == '>')
            t->kind = TK_NE, q++;
        break;
    case '\'':
        for (;;) {
            while (q < n && s[q] != '\'')
                q++;
            if (q >= n) {
                perr(p, pos, "unterminated string constant");
                t->kind = TK_ERR;
                t->end = n;
                return n;
            }
            if (q + 1 < n && s[q + 1] == '\'') {
                q += 2;
                continue;
            }
            q++;
            break;
        }
        t->kind = TK_STR;
        break;
    default:
        if (is_digit(ch) || (ch == '.' && q < n && is_digit((unsigned char)s[q]))) {
            int is_float = 0;
            q = pos;
            while (q < n && is_digit((unsigned char)s[q]))
                q++;
            if (q < n && s[q] == '.') {
                is_float = 1;
                q++;
                while (q < n && is_digit((unsigned char)s[q]))
                    q++;
            }
            if (q < n && (s[q] == 'e' || s[q] == 'E')) {
                size_t x = q + 1;
                if (x < n && (s[x] == '+' || s[x] == '-')) x++;
                if (x < n && is_digit((unsigned char)s[x])) {
                    is_float = 1;
                    q = x;
                    while (q < n && is_digit((unsigned char)s[q]))
                        q++;
                }
            }
            if (!is_float && ch == '0' && (p->flags & SQL92_LENIENT)) {
                q = pos + 1; /* RocketMQ lexes "007" as "0" "07" and "0L" as "0" "L" */
            } else if (!is_float && q < n && (s[q] == 'l' || s[q] == 'L')) {
                q++;
            }
            t->kind = is_float ? TK_FLOAT : TK_INT;
        } else if (is_id_start(ch)) {
            while (q < n && is_id_part((unsigned char)s[q]))
                q++;
            t->kind = TK_ID;
            for (size_t k = 0; k < sizeof(keywords) / sizeof(keywords[0]); k++) {
                const char *w = keywords[k].word;
                size_t wl = strlen(w), i;
                if (wl != q - pos) continue;
                for (i = 0; i < wl && (s[pos + i] & ~0x20) == w[i]; i++) {
                }
                if (i == wl) {
                    t->kind = keywords[k].kind;
                    break;
                }
            }
        } else {
            if (ch >= 0x20 && ch < 0x7f)
                perr(p, pos, "unexpected character '%c'", ch);
            else
                perr(p, pos, "unexpected byte 0x%02x", ch);
            t->kind = TK_ERR;
            t->end = pos + 1;
            return n;
        }
    }
    t->end = q;
    return q;
}

static void advance(parser_t *p) {
    p->prev = p->tok;
    p->next_pos = lex(p, p->next_pos, &p->tok);
}

static int peek_kind(parser_t *p) {
    token_t t;
    lex(p, p->next_pos, &t);
    return t.kind;
}

/* "'>'" or "end of input", for messages. */
static const char *tok_desc(parser_t *p, const token_t *t, char *buf, size_t n) {
    if (t->kind == TK_EOF) return "end of input";
    size_t len = t->end - t->start;
    if (len > 40)
        snprintf(buf, n, "'%.40s...'", p->src + t->start);
    else
        snprintf(buf, n, "'%.*s'", (int)len, p->src + t->start);
    return buf;
}

/* ------------------------------------------------------------- builders */

static uint32_t add_str(parser_t *p, const char *s, size_t n) {
    sql92_expr_t *e = p->e;
    GROW(e->pool, e->npool, e->cappool, n + 1);
    GROW(e->strs, e->nstrs, e->capstrs, 1);
    memcpy(e->pool + e->npool, s, n);
    e->pool[e->npool + n] = '\0';
    e->strs[e->nstrs].off = e->npool;
    e->strs[e->nstrs].len = (uint32_t)n;
    e->npool += (uint32_t)n + 1;
    return e->nstrs++;
}

/* Decodes the current string token ('' -> '). */
static uint32_t add_str_tok(parser_t *p) {
    sql92_expr_t *e = p->e;
    const char *s = p->src + p->tok.start + 1;
    size_t n = p->tok.end - p->tok.start - 2;
    GROW(e->pool, e->npool, e->cappool, n + 1);
    GROW(e->strs, e->nstrs, e->capstrs, 1);
    char *d = e->pool + e->npool;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        d[k++] = s[i];
        if (s[i] == '\'') i++;
    }
    d[k] = '\0';
    e->strs[e->nstrs].off = e->npool;
    e->strs[e->nstrs].len = (uint32_t)k;
    e->npool += (uint32_t)k + 1;
    return e->nstrs++;
}

static int64_t new_node(parser_t *p, int op, uint32_t col, uint32_t depth) {
    sql92_expr_t *e = p->e;
    if (depth > SQL92_MAX_DEPTH) {
        perr(p, col, "expression nested too deeply (more than %d levels)", SQL92_MAX_DEPTH);
        return -1;
    }
    GROW(e->nodes, e->nnodes, e->capnodes, 1);
    node_t *nd = &e->nodes[e->nnodes];
    memset(nd, 0, sizeof(*nd));
    nd->op = (uint8_t)op;
    nd->col = col;
    nd->depth = (uint16_t)depth;
    return e->nnodes++;
}

static node_t *N(parser_t *p, int64_t i) {
    return &p->e->nodes[i];
}

static int64_t mk_unary(parser_t *p, int op, int64_t a) {
    if (a < 0) return -1;
    int64_t n = new_node(p, op, N(p, a)->col, N(p, a)->depth + 1u);
    if (n >= 0) N(p, n)->a = (uint32_t)a;
    return n;
}

static int64_t mk_binary(parser_t *p, int op, int64_t a, int64_t b) {
    uint32_t d = N(p, a)->depth > N(p, b)->depth ? N(p, a)->depth : N(p, b)->depth;
    int64_t n = new_node(p, op, N(p, a)->col, d + 1u);
    if (n >= 0) {
        N(p, n)->a = (uint32_t)a;
        N(p, n)->b = (uint32_t)b;
    }
    return n;
}

static int64_t mk_nary(parser_t *p, int op, const uint32_t *items, uint32_t cnt) {
    uint32_t d = 0;
    for (uint32_t i = 0; i < cnt; i++)
        if (N(p, items[i])->depth > d) d = N(p, items[i])->depth;
    int64_t n = new_node(p, op, N(p, items[0])->col, d + 1u);
    if (n < 0) return -1;
    sql92_expr_t *e = p->e;
    GROW(e->kids, e->nkids, e->capkids, cnt);
    memcpy(e->kids + e->nkids, items, cnt * sizeof(uint32_t));
    N(p, n)->a = e->nkids;
    N(p, n)->b = cnt;
    e->nkids += cnt;
    return n;
}

static int is_bool_node(const node_t *nd) {
    if (nd->op == OP_CONST) return nd->ctype == T_BOOL || nd->ctype == T_NULL;
    return nd->op != OP_PROP && nd->op != OP_NEG;
}

static const char *node_desc(parser_t *p, const node_t *nd, char *buf, size_t n) {
    if (nd->op == OP_CONST) {
        switch (nd->ctype) {
        case T_NULL:
            return "NULL";
        case T_BOOL:
            return nd->k.i ? "TRUE" : "FALSE";
        case T_STR: {
            const str_t *s = &p->e->strs[nd->a];
            snprintf(buf, n, "string '%.40s'", p->e->pool + s->off);
            return buf;
        }
        default:
            return "number";
        }
    }
    return is_bool_node(nd) ? "a boolean expression" : "expression";
}

/* asBooleanExpression: a property becomes a boolean cast; other non-booleans are errors. */
static int64_t as_bool(parser_t *p, int64_t n) {
    if (n < 0) return -1;
    node_t *nd = N(p, n);
    if (nd->op == OP_PROP) return mk_unary(p, OP_BOOLCAST, n);
    if (is_bool_node(nd)) return n;
    char buf[64];
    perr(p, nd->col, "%s is not a boolean condition", node_desc(p, nd, buf, sizeof(buf)));
    return -1;
}

static const char *op_text(int kind) {
    switch (kind) {
    case TK_GT:
        return ">";
    case TK_GE:
        return ">=";
    case TK_LT:
        return "<";
    case TK_LE:
        return "<=";
    case TK_EQ:
        return "=";
    case TK_NE:
        return "<>";
    case KW_BETWEEN:
        return "BETWEEN";
    default:
        return "?";
    }
}

/* checkLessThanOperand: only numbers, properties and negations may be ordered. */
static int check_order_operand(parser_t *p, int64_t n, int opkind) {
    node_t *nd = N(p, n);
    int ok = nd->op == OP_CONST
                 ? (nd->ctype == T_INT || nd->ctype == T_LONG || nd->ctype == T_DOUBLE)
                 : !is_bool_node(nd);
    if (ok) return 0;
    char buf[64];
    perr(p, nd->col, "%s cannot be compared with '%s'", node_desc(p, nd, buf, sizeof(buf)),
         op_text(opkind));
    return -1;
}

static int64_t mk_order(parser_t *p, int op, int opkind, int64_t l, int64_t r) {
    if (l < 0 || r < 0) return -1;
    if (check_order_operand(p, l, opkind) < 0 || check_order_operand(p, r, opkind) < 0) return -1;
    return mk_binary(p, op, l, r);
}

static int64_t mk_eq(parser_t *p, int opkind, int64_t l, int64_t r) {
    if (l < 0 || r < 0) return -1;
    node_t *a = N(p, l), *b = N(p, r);
    if (a->op == OP_CONST && a->ctype == T_NULL) {
        perr(p, a->col, "NULL cannot be compared with '%s' (use IS NULL)", op_text(opkind));
        return -1;
    }
    if (b->op == OP_CONST && b->ctype == T_NULL) {
        perr(p, b->col, "NULL cannot be compared with '%s' (use IS NULL)", op_text(opkind));
        return -1;
    }
    if (a->op == OP_CONST && b->op == OP_CONST && a->ctype == T_BOOL && b->ctype != T_BOOL) {
        char buf[64];
        perr(p, b->col, "%s cannot be compared with %s", a->k.i ? "TRUE" : "FALSE",
             node_desc(p, b, buf, sizeof(buf)));
        return -1;
    }
    return mk_binary(p, OP_EQ, l, r);
}

static void const_val(parser_t *p, const node_t *nd, val_t *v) {
    v->t = nd->ctype;
    if (nd->ctype == T_STR) {
        v->u.s.p = p->e->pool + p->e->strs[nd->a].off;
        v->u.s.n = p->e->strs[nd->a].len;
    } else if (nd->ctype == T_DOUBLE) {
        v->u.d = nd->k.d;
    } else {
        v->u.i = nd->k.i;
    }
}

/* --------------------------------------------------------------- parser */

static int64_t parse_or(parser_t *p);

static int expect(parser_t *p, int kind, const char *what) {
    if (p->tok.kind == kind) {
        advance(p);
        return 0;
    }
    char b1[64], b2[64];
    if (p->tok.kind == TK_EOF)
        perr(p, p->tok.start, "expected %s after %s", what, tok_desc(p, &p->prev, b1, sizeof(b1)));
    else
        perr(p, p->tok.start, "expected %s after %s, found %s", what,
             tok_desc(p, &p->prev, b1, sizeof(b1)), tok_desc(p, &p->tok, b2, sizeof(b2)));
    return -1;
}

static int64_t parse_number(parser_t *p) {
    const char *s = p->src + p->tok.start;
    size_t n = p->tok.end - p->tok.start;
    uint32_t col = (uint32_t)p->tok.start;
    int64_t node;
    if (p->tok.kind == TK_INT) {
        size_t dn = n;
        if (s[dn - 1] == 'l' || s[dn - 1] == 'L') dn--;
        if (dn > 1 && s[0] == '0') {
            perr(p, col, "invalid number '%.*s' (leading zero)", (int)n, s);
            return -1;
        }
        int64_t v;
        if (java_parse_integral(s, dn, INT64_MIN, INT64_MAX, &v) < 0) {
            perr(p, col, "number '%.*s' is out of range for a long", (int)n, s);
            return -1;
        }
        node = new_node(p, OP_CONST, col, 1);
        if (node < 0) return -1;
        /* createFromDecimal: an Integer when it fits, else a Long */
        N(p, node)->ctype = (v >= INT32_MIN && v <= INT32_MAX) ? T_INT : T_LONG;
        N(p, node)->k.i = v;
    } else {
        char *buf = xmalloc(n + 1);
        memcpy(buf, s, n);
        buf[n] = '\0';
        double d = strtod(buf, NULL);
        free(buf);
        if (isinf(d)) {
            perr(p, col, "number '%.*s' is out of range for a double", (int)n, s);
            return -1;
        }
        node = new_node(p, OP_CONST, col, 1);
        if (node < 0) return -1;
        N(p, node)->ctype = T_DOUBLE;
        N(p, node)->k.d = d;
    }
    advance(p);
    return node;
}

static int64_t parse_primary(parser_t *p) {
    int64_t n;
    uint32_t col = (uint32_t)p->tok.start;
    switch (p->tok.kind) {
    case TK_STR: {
        uint32_t si = add_str_tok(p);
        n = new_node(p, OP_CONST, col, 1);
        if (n >= 0) {
            N(p, n)->ctype = T_STR;
            N(p, n)->a = si;
        }
        advance(p);
        return n;
    }
    case TK_INT:
    case TK_FLOAT:
        return parse_number(p);
    case KW_TRUE:
    case KW_FALSE:
    case KW_NULL:
        n = new_node(p, OP_CONST, col, 1);
        if (n >= 0) {
            N(p, n)->ctype = p->tok.kind == KW_NULL ? T_NULL : T_BOOL;
            N(p, n)->k.i = p->tok.kind == KW_TRUE;
        }
        advance(p);
        return n;
    case TK_ID: {
        sql92_expr_t *e = p->e;
        const char *name = p->src + p->tok.start;
        size_t len = p->tok.end - p->tok.start;
        uint32_t k;
        for (k = 0; k < e->nkeys; k++) {
            const str_t *s = &e->strs[e->keys[k]];
            if (s->len == len && memcmp(e->pool + s->off, name, len) == 0) break;
        }
        if (k == e->nkeys) {
            GROW(e->keys, e->nkeys, e->capkeys, 1);
            e->keys[e->nkeys++] = add_str(p, name, len);
            if (len == 4 && memcmp(name, "TAGS", 4) == 0) e->tags_key = k;
        }
        n = new_node(p, OP_PROP, col, 1);
        if (n >= 0) N(p, n)->a = k;
        advance(p);
        return n;
    }
    case TK_LP:
        advance(p);
        n = parse_or(p);
        if (n < 0) return -1;
        if (expect(p, TK_RP, "')'") < 0) return -1;
        N(p, n)->col = col; /* report errors about "(...)" at its parenthesis */
        return n;
    case TK_ERR:
        return -1;
    default: {
        char b1[64], b2[64];
        if (p->prev.kind == TK_EOF && p->tok.kind == TK_EOF)
            perr(p, p->tok.start, "empty expression");
        else if (p->tok.start == 0 || p->prev.end == 0)
            perr(p, p->tok.start, "expected a value, found %s",
                 tok_desc(p, &p->tok, b2, sizeof(b2)));
        else if (p->tok.kind == TK_EOF)
            perr(p, p->tok.start, "expected a value after %s",
                 tok_desc(p, &p->prev, b1, sizeof(b1)));
        else
            perr(p, p->tok.start, "expected a value after %s, found %s",
                 tok_desc(p, &p->prev, b1, sizeof(b1)), tok_desc(p, &p->tok, b2, sizeof(b2)));
        return -1;
    }
    }
}

static int64_t parse_unary(parser_t *p) {
    int64_t n;
    if (++p->nest > MAX_NEST) {
        perr(p, p->tok.start, "expression nested too deeply (more than %d levels)", MAX_NEST);
        return -1;
    }
    uint32_t col = (uint32_t)p->tok.start;
    switch (p->tok.kind) {
    case TK_PLUS:
        advance(p);
        n = parse_unary(p);
        break;
    case TK_MINUS:
        advance(p);
        n = mk_unary(p, OP_NEG, parse_unary(p));
        break;
    case KW_NOT:
        advance(p);
        n = mk_unary(p, OP_NOT, as_bool(p, parse_unary(p)));
        break;
    default:
        n = parse_primary(p);
        break;
    }
    if (n >= 0) N(p, n)->col = col;
    p->nest--;
    return n;
}

static int cmp_sort(const void *a, const void *b) {
    const struct {
        const char *p;
        str_t s;
    } *x = a, *y = b;
    if (x->s.len != y->s.len) return x->s.len < y->s.len ? -1 : 1;
    return memcmp(x->p, y->p, x->s.len);
}

static int64_t parse_in_list(parser_t *p, int64_t left, int neg, const token_t *optok) {
    if (N(p, left)->op != OP_PROP) {
        perr(p, optok->start, "%sIN needs a property name on its left", neg ? "NOT " : "");
        return -1;
    }
    if (expect(p, TK_LP, "'('") < 0) return -1;
    sql92_expr_t *e = p->e;
    uint32_t first = e->nstrs, cnt = 0;
    for (;;) {
        if (p->tok.kind != TK_STR) {
            char b1[64], b2[64];
            perr(p, p->tok.start, "expected a string constant after %s, found %s",
                 tok_desc(p, &p->prev, b1, sizeof(b1)), tok_desc(p, &p->tok, b2, sizeof(b2)));
            return -1;
        }
        add_str_tok(p);
        cnt++;
        advance(p);
        if (p->tok.kind == TK_COMMA) {
            advance(p);
            continue;
        }
        if (expect(p, TK_RP, "',' or ')'") < 0) return -1;
        break;
    }
    /* The list strings are contiguous in strs[] (nothing else is added meanwhile). */
    if (cnt > IN_LINEAR) {
        struct {
            const char *p;
            str_t s;
        } *tmp = xmalloc(cnt * sizeof(*tmp));
        for (uint32_t i = 0; i < cnt; i++) {
            tmp[i].s = e->strs[first + i];
            tmp[i].p = e->pool + tmp[i].s.off;
        }
        qsort(tmp, cnt, sizeof(*tmp), cmp_sort);
        for (uint32_t i = 0; i < cnt; i++)
            e->strs[first + i] = tmp[i].s;
        free(tmp);
    }
    int64_t n = mk_unary(p, OP_IN, left);
    if (n >= 0) {
        N(p, n)->neg = (uint8_t)neg;
        N(p, n)->b = first;
        N(p, n)->c = cnt;
    }
    return n;
}

static int64_t parse_cmp(parser_t *p) {
    int64_t l = parse_unary(p);
    while (l >= 0) {
        token_t optok = p->tok;
        int kind = optok.kind, neg = 0;
        if (kind == TK_GT || kind == TK_GE || kind == TK_LT || kind == TK_LE) {
            advance(p);
            int op = kind == TK_GT ? OP_GT : kind == TK_GE ? OP_GE : kind == TK_LT ? OP_LT : OP_LE;
            l = mk_order(p, op, kind, l, parse_unary(p));
            continue;
        }
        if (kind == KW_NOT) {
            int k2 = peek_kind(p);
            if (k2 != KW_BETWEEN && k2 != KW_IN && k2 != KW_CONTAINS && k2 != KW_STARTSWITH &&
                k2 != KW_ENDSWITH) {
                if (k2 != TK_ERR)
                    perr(p, optok.start,
                         "expected BETWEEN, IN, CONTAINS, STARTSWITH or ENDSWITH after 'NOT'");
                return -1;
            }
            neg = 1;
            advance(p);
            kind = k2;
        }
        switch (kind) {
        case KW_CONTAINS:
        case KW_STARTSWITH:
        case KW_ENDSWITH: {
            advance(p);
            if (p->tok.kind != TK_STR) {
                char b1[64], b2[64];
                perr(p, p->tok.start, "expected a string constant after %s, found %s",
                     tok_desc(p, &p->prev, b1, sizeof(b1)), tok_desc(p, &p->tok, b2, sizeof(b2)));
                return -1;
            }
            uint32_t si = add_str_tok(p);
            advance(p);
            int op = kind == KW_CONTAINS     ? OP_CONTAINS
                     : kind == KW_STARTSWITH ? OP_STARTSWITH
                                             : OP_ENDSWITH;
            l = mk_unary(p, op, l);
            if (l >= 0) {
                N(p, l)->neg = (uint8_t)neg;
                N(p, l)->b = si;
            }
            continue;
        }
        case KW_BETWEEN: {
            advance(p);
            int64_t lo = parse_unary(p);
            if (lo < 0) return -1;
            if (expect(p, KW_AND, "AND") < 0) return -1;
            int64_t hi = parse_unary(p);
            if (hi < 0) return -1;
            if (neg) {
                /* x NOT BETWEEN a AND b  ==  x < a OR x > b */
                int64_t lt = mk_order(p, OP_LT, KW_BETWEEN, l, lo);
                int64_t gt = lt < 0 ? -1 : mk_order(p, OP_GT, KW_BETWEEN, l, hi);
                if (gt < 0) return -1;
                uint32_t items[2] = {(uint32_t)lt, (uint32_t)gt};
                l = mk_nary(p, OP_OR, items, 2);
                continue;
            }
            node_t *a = N(p, lo), *b = N(p, hi);
            if (a->op == OP_CONST && b->op == OP_CONST) {
                val_t va, vb;
                int cmp;
                if (a->ctype == T_NULL || b->ctype == T_NULL) {
                    perr(p, optok.start, "BETWEEN bounds cannot be NULL");
                    return -1;
                }
                const_val(p, a, &va);
                const_val(p, b, &vb);
                if (java_compare(&vb, &va, &cmp) < 0) {
                    perr(p, optok.start, "BETWEEN bounds cannot be compared with each other");
                    return -1;
                }
                if (cmp < 0) {
                    perr(p, b->col, "BETWEEN lower bound is greater than the upper bound");
                    return -1;
                }
            }
            /* x BETWEEN a AND b  ==  x >= a AND x <= b */
            int64_t ge = mk_order(p, OP_GE, KW_BETWEEN, l, lo);
            int64_t le = ge < 0 ? -1 : mk_order(p, OP_LE, KW_BETWEEN, l, hi);
            if (le < 0) return -1;
            uint32_t items[2] = {(uint32_t)ge, (uint32_t)le};
            l = mk_nary(p, OP_AND, items, 2);
            continue;
        }
        case KW_IN:
            advance(p);
            l = parse_in_list(p, l, neg, &optok);
            continue;
        default:
            return l;
        }
    }
    return -1;
}

static int64_t parse_eq(parser_t *p) {
    int64_t l = parse_cmp(p);
    while (l >= 0) {
        token_t optok = p->tok;
        if (optok.kind == TK_EQ || optok.kind == TK_NE) {
            advance(p);
            l = mk_eq(p, optok.kind, l, parse_cmp(p));
            if (optok.kind == TK_NE) l = mk_unary(p, OP_NOT, l);
        } else if (optok.kind == KW_IS) {
            advance(p);
            if (p->tok.kind == KW_NULL) {
                advance(p);
                l = mk_unary(p, OP_ISNULL, l);
            } else if (p->tok.kind == KW_NOT && peek_kind(p) == KW_NULL) {
                advance(p);
                advance(p);
                l = mk_unary(p, OP_NOT, mk_unary(p, OP_ISNULL, l));
            } else {
                if (p->tok.kind != TK_ERR) {
                    char b[64];
                    perr(p, p->tok.start, "expected NULL or NOT NULL after 'IS', found %s",
                         tok_desc(p, &p->tok, b, sizeof(b)));
                }
                return -1;
            }
        } else {
            return l;
        }
    }
    return -1;
}

/* Left-assoc chains of AND (or OR), flattened into one n-ary node. */
static int64_t parse_chain(parser_t *p, int kw, int op, int64_t (*sub)(parser_t *)) {
    int64_t first = sub(p);
    if (first < 0 || p->tok.kind != kw) return first;
    uint32_t cap = 8, cnt = 0;
    uint32_t *items = xmalloc(cap * sizeof(uint32_t));
    int64_t n = as_bool(p, first);
    if (n >= 0) items[cnt++] = (uint32_t)n;
    while (n >= 0 && p->tok.kind == kw) {
        advance(p);
        n = as_bool(p, sub(p));
        if (n < 0) break;
        if (cnt == cap) items = xrealloc(items, (cap *= 2) * sizeof(uint32_t));
        items[cnt++] = (uint32_t)n;
    }
    if (n >= 0) n = mk_nary(p, op, items, cnt);
    free(items);
    return n;
}

static int64_t parse_and(parser_t *p) {
    return parse_chain(p, KW_AND, OP_AND, parse_eq);
}
static int64_t parse_or(parser_t *p) {
    return parse_chain(p, KW_OR, OP_OR, parse_and);
}

/* ------------------------------------------------------------------ API */

void sql92_free(sql92_expr_t *e) {
    if (!e) return;
    free(e->text);
    free(e->nodes);
    free(e->kids);
    free(e->strs);
    free(e->pool);
    free(e->keys);
    free(e);
}

int sql92_compile_ex(const char *expr, size_t len, unsigned flags, sql92_expr_t **out, char *err,
                     size_t errlen) {
    *out = NULL;
    if (err && errlen) err[0] = '\0';
    if (!expr) {
        if (err && errlen) snprintf(err, errlen, "SQL92 syntax error: empty expression");
        return -1;
    }
    if (len > SQL92_MAX_EXPR_LEN) {
        if (err && errlen)
            snprintf(err, errlen, "SQL92 expression too long (%zu bytes, limit %u)", len,
                     SQL92_MAX_EXPR_LEN);
        return -1;
    }
    parser_t p;
    memset(&p, 0, sizeof(p));
    p.src = expr;
    p.len = len;
    p.flags = flags;
    p.e = xcalloc(1, sizeof(sql92_expr_t));
    p.e->tags_key = -1;
    p.prev.kind = TK_EOF;
    p.next_pos = lex(&p, 0, &p.tok);
    int64_t root = -1;
    if (p.tok.kind == TK_EOF) {
        perr(&p, 0, "empty expression");
    } else if (p.tok.kind != TK_ERR) {
        root = parse_or(&p);
        if (root >= 0 && p.tok.kind != TK_EOF && p.tok.kind != TK_ERR && (flags & SQL92_LENIENT)) {
            if (err && errlen)
                snprintf(err, errlen, "SQL92 warning: text from column %zu on ignored",
                         p.tok.start + 1);
        } else if (root >= 0 && p.tok.kind != TK_EOF) {
            char b[64];
            if (p.tok.kind != TK_ERR)
                perr(&p, p.tok.start, "unexpected %s after a complete condition",
                     tok_desc(&p, &p.tok, b, sizeof(b)));
            root = -1;
        }
        if (root >= 0) root = as_bool(&p, root);
    }
    if (root < 0 || p.failed) {
        if (!p.failed) perr(&p, 0, "invalid expression");
        if (err && errlen) snprintf(err, errlen, "%s", p.msg);
        sql92_free(p.e);
        return -1;
    }
    p.e->root = (uint32_t)root;
    for (uint32_t k = 0; k < p.e->nkeys && k < SLOTS_MAX; k++) {
        unsigned char b0 = (unsigned char)p.e->pool[p.e->strs[p.e->keys[k]].off];
        p.e->first_bytes[b0 >> 6] |= 1ull << (b0 & 63);
    }
    p.e->text = xmalloc(len + 1);
    memcpy(p.e->text, expr, len);
    p.e->text[len] = '\0';
    *out = p.e;
    return 0;
}

int sql92_compile_n(const char *expr, size_t len, sql92_expr_t **out, char *err, size_t errlen) {
    return sql92_compile_ex(expr, len, 0, out, err, errlen);
}

int sql92_compile(const char *expr, sql92_expr_t **out, char *err, size_t errlen) {
    return sql92_compile_ex(expr, expr ? strlen(expr) : 0, 0, out, err, errlen);
}

const char *sql92_text(const sql92_expr_t *e) {
    return e->text;
}
size_t sql92_prop_count(const sql92_expr_t *e) {
    return e->nkeys;
}
const char *sql92_prop_name(const sql92_expr_t *e, size_t i) {
    return i < e->nkeys ? e->pool + e->strs[e->keys[i]].off : NULL;
}
