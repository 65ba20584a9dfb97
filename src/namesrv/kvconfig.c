/*
 * kvconfig: see kvconfig.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "namesrv/kvconfig.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/log.h"
#include "common/util.h"
#include "common/strmap.h"

struct ns_kv_s {
    char *path;
    strmap_t spaces; /* ns -> strmap_t of key -> char* */
    unsigned long version;
};

ns_kv_t *ns_kv_create(const char *path) {
    ns_kv_t *kv = xcalloc(1, sizeof(*kv));
    kv->path = path && *path ? xstrdup(path) : NULL;
    strmap_init(&kv->spaces);
    return kv;
}

static void space_free(strmap_t *m) {
    STRMAP_FOREACH(m, e) free(e->val);
    strmap_free(m);
    free(m);
}

void ns_kv_destroy(ns_kv_t *kv) {
    if (!kv) return;
    STRMAP_FOREACH(&kv->spaces, e)
        space_free(e->val);
    strmap_free(&kv->spaces);
    free(kv->path);
    free(kv);
}

static void put_mem(ns_kv_t *kv, const char *ns, const char *key, const char *val) {
    strmap_t *m = strmap_get(&kv->spaces, ns);
    if (!m) {
        m = xcalloc(1, sizeof(*m));
        strmap_init(m);
        strmap_put(&kv->spaces, ns, m);
    }
    free(strmap_put(m, key, xstrdup(val)));
    kv->version++;
}

static void table_json(const strmap_t *m, buf_t *out) {
    size_t n;
    const char **k = strmap_sorted_keys(m, &n);
    buf_put_u8(out, '{');
    for (size_t i = 0; i < n; i++) {
        const char *v = strmap_get(m, k[i]);
        if (i) buf_put_u8(out, ',');
        buf_json_str(out, k[i], strlen(k[i]));
        buf_put_u8(out, ':');
        buf_json_str(out, v, strlen(v));
    }
    buf_put_u8(out, '}');
    free(k);
}

static int persist(ns_kv_t *kv) {
    if (!kv->path) return 0;
    buf_t b;
    buf_init(&b);
    buf_append_str(&b, "{\"configTable\":{");
    size_t n;
    const char **k = strmap_sorted_keys(&kv->spaces, &n);
    for (size_t i = 0; i < n; i++) {
        if (i) buf_put_u8(&b, ',');
        buf_json_str(&b, k[i], strlen(k[i]));
        buf_put_u8(&b, ':');
        table_json(strmap_get(&kv->spaces, k[i]), &b);
    }
    free(k);
    buf_append_str(&b, "}}\n");
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", kv->path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        mkdir_p(dir, 0755);
    }
    int rc = file_write_atomic(kv->path, b.data, b.len);
    if (rc != 0) log_error("cannot write KV config %s: %s", kv->path, strerror(-rc));
    buf_free(&b);
    return rc;
}

int ns_kv_load(ns_kv_t *kv, char *err, size_t errlen) {
    if (!kv->path) return 0;
    char *text;
    size_t len;
    int rc = file_read_all(kv->path, &text, &len);
    if (rc == -ENOENT) return 0;
    if (rc != 0) {
        snprintf(err, errlen, "cannot read %s: %s", kv->path, strerror(-rc));
        return -1;
    }
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    const cJSON *ct = cJSON_GetObjectItemCaseSensitive(j, "configTable");
    if (!cJSON_IsObject(ct)) {
        snprintf(err, errlen, "%s: not a KV config file (no configTable object)", kv->path);
        cJSON_Delete(j);
        return -1;
    }
    const cJSON *ns, *kvp;
    size_t count = 0;
    cJSON_ArrayForEach(ns, ct) {
        if (!cJSON_IsObject(ns)) continue;
        cJSON_ArrayForEach(kvp, ns) {
            if (cJSON_IsString(kvp)) {
                put_mem(kv, ns->string, kvp->string, kvp->valuestring);
                count++;
            }
        }
    }
    cJSON_Delete(j);
    log_info("loaded %zu KV config entries from %s", count, kv->path);
    return 0;
}

int ns_kv_put(ns_kv_t *kv, const char *ns, const char *key, const char *val) {
    put_mem(kv, ns, key, val);
    log_info("KV config put: %s %s = %s", ns, key, val);
    return persist(kv);
}

int ns_kv_del(ns_kv_t *kv, const char *ns, const char *key) {
    strmap_t *m = strmap_get(&kv->spaces, ns);
    if (!m) return 0;
    char *v = strmap_del(m, key);
    if (!v) return 0;
    free(v);
    kv->version++;
    log_info("KV config deleted: %s %s", ns, key);
    return persist(kv);
}

const char *ns_kv_get(const ns_kv_t *kv, const char *ns, const char *key) {
    strmap_t *m = strmap_get(&kv->spaces, ns);
    return m ? strmap_get(m, key) : NULL;
}

int ns_kv_table_json(const ns_kv_t *kv, const char *ns, buf_t *out) {
    strmap_t *m = strmap_get(&kv->spaces, ns);
    if (!m) return -1;
    buf_append_str(out, "{\"table\":");
    table_json(m, out);
    buf_put_u8(out, '}');
    return 0;
}

unsigned long ns_kv_version(const ns_kv_t *kv) { return kv->version; }
