/*
 * config: see config.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "common/config.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "common/util.h"

const cfg_def_t *cfg_find(const cfg_def_t *defs, const char *key) {
    for (const cfg_def_t *d = defs; d->key; d++)
        if (strcmp(d->key, key) == 0) return d;
    return NULL;
}

static int parse_value(const cfg_def_t *d, void *conf, const char *value, char *err,
                       size_t errlen) {
    char *field = (char *)conf + d->offset;
    switch (d->type) {
    case CFG_STR: {
        char **s = (char **)field;
        free(*s);
        *s = xstrdup(value);
        return 0;
    }
    case CFG_INT:
    case CFG_LONG: {
        char *end;
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (errno || end == value || *end) {
            snprintf(err, errlen, "%s: '%s' is not an integer", d->key, value);
            return -1;
        }
        if (d->min <= d->max && (v < d->min || v > d->max)) {
            snprintf(err, errlen, "%s: %lld is out of range [%" PRId64 ", %" PRId64 "]", d->key,
                     v, d->min, d->max);
            return -1;
        }
        if (d->type == CFG_INT) {
            if (v < INT32_MIN || v > INT32_MAX) {
                snprintf(err, errlen, "%s: %lld does not fit an int", d->key, v);
                return -1;
            }
            *(int32_t *)field = (int32_t)v;
        } else {
            *(int64_t *)field = v;
        }
        return 0;
    }
    case CFG_BOOL:
        if (strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0) {
            *(int *)field = 1;
        } else if (strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0) {
            *(int *)field = 0;
        } else {
            snprintf(err, errlen, "%s: '%s' is not true or false", d->key, value);
            return -1;
        }
        return 0;
    case CFG_ENUM:
        for (int i = 0; d->enums[i]; i++) {
            if (strcasecmp(d->enums[i], value) == 0) {
                *(int *)field = i;
                return 0;
            }
        }
        {
            char opts[256] = "";
            for (int i = 0; d->enums[i]; i++) {
                strncat(opts, i ? ", " : "", sizeof(opts) - strlen(opts) - 1);
                strncat(opts, d->enums[i], sizeof(opts) - strlen(opts) - 1);
            }
            snprintf(err, errlen, "%s: '%s' is not one of %s", d->key, value, opts);
        }
        return -1;
    }
    return -1;
}

void cfg_defaults(const cfg_def_t *defs, void *conf) {
    char err[256];
    for (const cfg_def_t *d = defs; d->key; d++) {
        if (d->type == CFG_STR) *(char **)((char *)conf + d->offset) = NULL;
        if (parse_value(d, conf, d->defval ? d->defval : "", err, sizeof(err)) != 0)
            petrel_assert_fail(err, __FILE__, __LINE__);
    }
}

void cfg_free(const cfg_def_t *defs, void *conf) {
    for (const cfg_def_t *d = defs; d->key; d++) {
        if (d->type == CFG_STR) {
            char **s = (char **)((char *)conf + d->offset);
            free(*s);
            *s = NULL;
        }
    }
}

int cfg_set(const cfg_def_t *defs, void *conf, const char *key, const char *value, char *err,
            size_t errlen) {
    const cfg_def_t *d = cfg_find(defs, key);
    if (!d) return 1;
    return parse_value(d, conf, value, err, errlen);
}

int cfg_get(const cfg_def_t *defs, const void *conf, const char *key, char *out, size_t outlen) {
    const cfg_def_t *d = cfg_find(defs, key);
    if (!d) return -1;
    const char *field = (const char *)conf + d->offset;
    switch (d->type) {
    case CFG_STR:
        snprintf(out, outlen, "%s", *(char *const *)field ? *(char *const *)field : "");
        break;
    case CFG_INT: snprintf(out, outlen, "%d", *(const int32_t *)field); break;
    case CFG_LONG: snprintf(out, outlen, "%" PRId64, *(const int64_t *)field); break;
    case CFG_BOOL: snprintf(out, outlen, "%s", *(const int *)field ? "true" : "false"); break;
    case CFG_ENUM: snprintf(out, outlen, "%s", d->enums[*(const int *)field]); break;
    }
    return 0;
}

int props_parse(const char *text, int (*fn)(const char *key, const char *val, void *arg),
                void *arg) {
    const char *p = text;
    char line[8192];
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t n = eol ? (size_t)(eol - p) : strlen(p);
        if (n >= sizeof(line)) n = sizeof(line) - 1;
        memcpy(line, p, n);
        line[n] = 0;
        p = eol ? eol + 1 : p + strlen(p);
        char *s = line;
        while (isspace((unsigned char)*s)) s++;
        if (*s == 0 || *s == '#' || *s == '!') continue;
        char *sep = s + strcspn(s, "=:");
        char *k_end = sep;
        while (k_end > s && isspace((unsigned char)k_end[-1])) k_end--;
        char *v = *sep ? sep + 1 : sep;
        *k_end = 0;
        while (isspace((unsigned char)*v)) v++;
        char *v_end = v + strlen(v);
        while (v_end > v && isspace((unsigned char)v_end[-1])) v_end--;
        *v_end = 0;
        int rc = fn(s, v, arg);
        if (rc != 0) return rc;
    }
    return 0;
}

struct load_ctx {
    const cfg_def_t *defs;
    void *conf;
    const char *path;
    char *err;
    size_t errlen;
};

static int load_one(const char *key, const char *val, void *arg) {
    struct load_ctx *c = arg;
    int rc = cfg_set(c->defs, c->conf, key, val, c->err, c->errlen);
    if (rc == 1) {
        log_warn("%s: unknown config key '%s' ignored", c->path, key);
        return 0;
    }
    return rc;
}

int cfg_load_file(const cfg_def_t *defs, void *conf, const char *path, char *err, size_t errlen) {
    char *text;
    int rc = file_read_all(path, &text, NULL);
    if (rc != 0) {
        snprintf(err, errlen, "cannot read config file %s: %s", path, strerror(-rc));
        return -1;
    }
    struct load_ctx c = {defs, conf, path, err, errlen};
    rc = props_parse(text, load_one, &c);
    free(text);
    return rc == 0 ? 0 : -1;
}

int cfg_apply_args(const cfg_def_t *defs, void *conf, int argc, char **argv, char *err,
                   size_t errlen) {
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0) continue;
        const char *eq = strchr(a, '=');
        char key[256];
        const char *val;
        if (eq) {
            snprintf(key, sizeof(key), "%.*s", (int)(eq - a - 2), a + 2);
            val = eq + 1;
        } else {
            snprintf(key, sizeof(key), "%s", a + 2);
            const cfg_def_t *d = cfg_find(defs, key);
            if (!d) continue; /* a flag the caller handles */
            if (d->type == CFG_BOOL && (i + 1 >= argc || strncmp(argv[i + 1], "-", 1) == 0)) {
                val = "true";
            } else if (i + 1 < argc) {
                val = argv[++i];
            } else {
                snprintf(err, errlen, "--%s needs a value", key);
                return -1;
            }
        }
        int rc = cfg_set(defs, conf, key, val, err, errlen);
        if (rc == 1) {
            snprintf(err, errlen, "unknown option --%s (see --help-config)", key);
            return -1;
        }
        if (rc != 0) return -1;
    }
    return 0;
}

void cfg_print_help(const cfg_def_t *defs, const char *title) {
    printf("%s configuration keys (properties file or --key=value):\n", title);
    for (const cfg_def_t *d = defs; d->key; d++)
        printf("  %-40s default %-24s %s%s\n", d->key, d->defval && *d->defval ? d->defval : "\"\"",
               d->desc ? d->desc : "", d->runtime ? " [runtime]" : "");
}
