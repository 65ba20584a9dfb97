/*
 * metrics_scrape: what the metrics tests share: a plain HTTP/1.0 GET and a
 * scrape parsed by the reference Prometheus parser (python3-prometheus-client,
 * tests/console/prom2json.py), with lookups into its JSON.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_TESTS_METRICS_SCRAPE_H
#define PETREL_TESTS_METRICS_SCRAPE_H

#include <cjson/cJSON.h>

#include "../testutil.h"

static int mport;   /* the /metrics port under test */
static char *dir;   /* the test's temp dir (scrape.txt goes there) */

/* GET path over HTTP/1.0; returns the status and the body in out (malloc'd). */
static int http_get(int p, const char *path, char **out, char *ctype, size_t ctlen) {
    int fd = tu_connect(p);
    if (fd < 0) return -1;
    char req[256];
    snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return -1;
    }
    buf_t b;
    buf_init(&b);
    for (;;) {
        uint8_t *w = buf_reserve(&b, 65536);
        ssize_t r = read(fd, w, 65536);
        if (r <= 0) break;
        b.len += (size_t)r;
    }
    close(fd);
    buf_put_u8(&b, 0);
    char *s = (char *)b.data;
    int status = -1;
    sscanf(s, "HTTP/1.%*d %d", &status);
    char *body = strstr(s, "\r\n\r\n");
    char *ct = strstr(s, "\r\nContent-Type: ");
    if (ctype && ct && (!body || ct < body)) {
        ct += 16;
        size_t n = strcspn(ct, "\r");
        snprintf(ctype, ctlen, "%.*s", (int)n, ct);
    }
    *out = strdup(body ? body + 4 : "");
    buf_free(&b);
    return status;
}

/* Scrapes and parses with the reference parser; returns {"families", "samples"}. */
static cJSON *scrape(void) {
    char *text = NULL, ct[128] = "";
    assert_int_equal(http_get(mport, "/metrics", &text, ct, sizeof(ct)), 200);
    assert_non_null(strstr(ct, "text/plain; version=0.0.4"));
    char path[700], cmd[2000];
    snprintf(path, sizeof(path), "%s/scrape.txt", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(text);
    const char *src = getenv("PETREL_SRC");
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/console/prom2json.py %s",
             src ? src : "..", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    buf_t out;
    buf_init(&out);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0) buf_append(&out, chunk, n);
    int st = pclose(p);
    if (st != 0) fprintf(stderr, "the Prometheus parser failed (python3-prometheus-client is "
                                 "installed by scripts/deps.sh); text in %s\n", path);
    assert_int_equal(st, 0);
    buf_put_u8(&out, 0);
    cJSON *j = cJSON_Parse((const char *)out.data);
    buf_free(&out);
    assert_non_null(j);
    return j;
}

static const char *family_type(const cJSON *j, const char *name) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(j, "families"), name);
    return t && cJSON_IsString(t) ? t->valuestring : NULL;
}

static const char *label(const cJSON *s, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItem(s, "labels"), k);
    return v && cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The sample `name` whose labels include topic / group / le when not NULL. */
static const cJSON *sample_le(const cJSON *j, const char *name, const char *topic,
                              const char *group, const char *le) {
    const cJSON *s;
    cJSON_ArrayForEach(s, cJSON_GetObjectItem(j, "samples")) {
        if (strcmp(cJSON_GetObjectItem(s, "name")->valuestring, name) != 0) continue;
        const char *t = label(s, "topic"), *g = label(s, "consumer_group"), *l = label(s, "le");
        if (topic && (!t || strcmp(t, topic) != 0)) continue;
        if (group && (!g || strcmp(g, group) != 0)) continue;
        if (le && (!l || strcmp(l, le) != 0)) continue;
        return s;
    }
    return NULL;
}

static const cJSON *sample(const cJSON *j, const char *name, const char *topic, const char *group) {
    return sample_le(j, name, topic, group, NULL);
}

static double value(const cJSON *j, const char *name, const char *topic, const char *group) {
    const cJSON *s = sample(j, name, topic, group);
    if (!s) return -1;
    return cJSON_GetObjectItem(s, "value")->valuedouble;
}

#endif
