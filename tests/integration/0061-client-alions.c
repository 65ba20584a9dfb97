/*
 * Cross-client interoperability against real petrel processes: a libpetrel
 * producer read by an ali-ons (Node.js) consumer, and an ali-ons producer read
 * by a libpetrel push consumer, with tags, keys, user properties and binary
 * bodies (all 256 byte values; one above the 4 KiB compression threshold)
 * intact. The ali-ons side reuses tests/compat/harness.js against the running
 * NameServer (PETREL_NAMESRV). Fails when node or ali-ons is missing (scripts/deps.sh installs them).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "../testutil.h"
#include "common/util.h"
#include "petrel/petrel.h"
#include "remoting/remoting.h"

static tu_pair_t P; /* NameServer + broker-a */
static char harness[1024];

#define N_MSGS 6

static void create_topic(const char *topic) {
    assert_int_equal(tu_create_topic(&P, topic, 2), 0);
}

static int start_cluster(void) {
    static const char *const br_extra[] = {"--mappedFileSizeCommitLog=4194304", NULL};
    return tu_pair_start(&P, "petrel-it-alions", NULL, br_extra);
}

/* Body of message i: its key, then bytes 0..255 (i == 2: 6000 bytes, compressed in transit). */
static size_t make_body(int i, const char *key, uint8_t *out) {
    size_t kl = strlen(key), n = i == 2 ? 6000 : 256;
    memcpy(out, key, kl);
    for (size_t k = 0; k < n; k++)
        out[kl + k] = (uint8_t)k;
    return kl + n;
}

static void hex(const uint8_t *p, size_t n, char *out) {
    static const char h[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = h[p[i] >> 4];
        out[2 * i + 1] = h[p[i] & 15];
    }
    out[2 * n] = 0;
}

/* Runs a node script with the harness against our cluster; returns its stdout (malloc'd). */
static char *run_node(const char *script, const char *topic, const char *group) {
    char path[800], cmd[4096];
    snprintf(path, sizeof(path), "%s/script.js", P.dir);
    assert_int_equal(file_write_atomic(path, script, strlen(script)), 0);
    snprintf(cmd, sizeof(cmd),
             "cd '%s' && PETREL_NAMESRV=%s HARNESS='%s' TOPIC=%s GROUP=%s N=%d "
             "timeout 120 node '%s' 2>'%s/node.err'",
             P.dir, P.ns_addr, harness, topic, group, N_MSGS, path, P.dir);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    buf_t b;
    buf_init(&b);
    char line[65536];
    while (fgets(line, sizeof(line), f))
        buf_append_str(&b, line);
    int st = pclose(f);
    buf_put_u8(&b, 0);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        fprintf(stderr, "node failed (status %d); stderr in %s/node.err\n", st, P.dir);
        fail();
    }
    return (char *)b.data;
}

static const char *CONSUME_JS =
    "const h = require(process.env.HARNESS);\n"
    "(async () => {\n"
    "  await h.withCluster('interop', async cluster => {\n"
    "    const col = h.collector();\n"
    "    const c = cluster.consumer({ consumerGroup: process.env.GROUP,\n"
    "      consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });\n"
    "    await c.ready();\n"
    "    c.subscribe(process.env.TOPIC, '*', col.handler);\n"
    "    await h.waitFor(() => col.unique >= Number(process.env.N), 60000, 'messages');\n"
    "    for (const [key, ds] of col.byKey) {\n"
    "      const d = ds[0];\n"
    "      console.log(JSON.stringify({ key, tags: d.tags, color: d.properties.color,\n"
    "        body: d.body.toString('hex') }));\n"
    "    }\n"
    "    await c.close();\n"
    "  });\n"
    "})().then(() => process.exit(0), e => { console.error(e); process.exit(1); });\n";

static const char *PRODUCE_JS =
    "const h = require(process.env.HARNESS);\n"
    "(async () => {\n"
    "  await h.withCluster('interop', async cluster => {\n"
    "    const p = cluster.producer();\n"
    "    await p.ready();\n"
    "    for (let i = 0; i < Number(process.env.N); i++) {\n"
    "      const key = 'ons' + i;\n"
    "      const n = i === 2 ? 6000 : 256;\n"
    "      const body = Buffer.concat([Buffer.from(key), Buffer.from(Array.from({ length: n },\n"
    "        (_, k) => k & 255))]);\n"
    "      const m = new h.Message(process.env.TOPIC, 'FromOns', body);\n"
    "      m.keys = [ key ];\n"
    "      m.properties.color = 'blue';\n"
    "      const r = await p.send(m);\n"
    "      if (r.sendStatus !== 'SEND_OK') throw new Error('send ' + r.sendStatus);\n"
    "    }\n"
    "    await p.close();\n"
    "  });\n"
    "})().then(() => process.exit(0), e => { console.error(e); process.exit(1); });\n";

static void test_petrel_to_alions(void **state) {
    create_topic("InteropA");
    petrel_conf_t *c = petrel_conf_new();
    petrel_conf_set(c, "namesrvAddr", P.ns_addr, NULL, 0);
    petrel_conf_set(c, "groupName", "InteropPG", NULL, 0);
    petrel_producer_t *p = NULL;
    assert_int_equal(petrel_producer_create(c, &p, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    assert_int_equal(petrel_producer_start(p), PETREL_OK);
    uint8_t body[8192];
    for (int i = 0; i < N_MSGS; i++) {
        char key[16];
        snprintf(key, sizeof(key), "lp%d", i);
        petrel_msg_t *m = petrel_msg_new("InteropA");
        petrel_msg_set_tags(m, "FromPetrel");
        petrel_msg_set_keys(m, key);
        petrel_msg_set_property(m, "color", "red");
        petrel_msg_set_body(m, body, make_body(i, key, body));
        assert_int_equal(petrel_producer_send(p, m, NULL), PETREL_OK);
        petrel_msg_destroy(m);
    }
    petrel_producer_destroy(p);
    char *out = run_node(CONSUME_JS, "InteropA", "InteropCG1");
    int seen = 0;
    char *save = NULL;
    char *want_hex = malloc(2 * sizeof(body) + 1);
    for (char *ln = strtok_r(out, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        cJSON *j = cJSON_Parse(ln);
        if (!j) continue;
        const char *key = cJSON_GetObjectItem(j, "key")->valuestring;
        int i = atoi(key + 2);
        assert_string_equal(cJSON_GetObjectItem(j, "tags")->valuestring, "FromPetrel");
        assert_string_equal(cJSON_GetObjectItem(j, "color")->valuestring, "red");
        hex(body, make_body(i, key, body), want_hex);
        assert_string_equal(cJSON_GetObjectItem(j, "body")->valuestring, want_hex);
        seen++;
        cJSON_Delete(j);
    }
    free(want_hex);
    free(out);
    assert_int_equal(seen, N_MSGS);
}

typedef struct got_s {
    pthread_mutex_t mu;
    int n, bad;
} got_t;

static petrel_consume_status_t on_msg(petrel_push_consumer_t *c, const petrel_msg_t *m,
                                      void *opaque) {
    got_t *g = opaque;
    uint8_t want[8192];
    const char *key = petrel_msg_keys(m);
    size_t len;
    const void *body = petrel_msg_body(m, &len);
    int ok = key && strncmp(key, "ons", 3) == 0 && petrel_msg_tags(m) &&
             strcmp(petrel_msg_tags(m), "FromOns") == 0 && petrel_msg_property(m, "color") &&
             strcmp(petrel_msg_property(m, "color"), "blue") == 0;
    if (ok) {
        size_t n = make_body(atoi(key + 3), key, want);
        ok = n == len && memcmp(want, body, n) == 0;
    }
    pthread_mutex_lock(&g->mu);
    g->n++;
    g->bad += !ok;
    pthread_mutex_unlock(&g->mu);
    return PETREL_CONSUME_SUCCESS;
}

static void test_alions_to_petrel(void **state) {
    create_topic("InteropB");
    char *out = run_node(PRODUCE_JS, "InteropB", "unused");
    free(out);
    got_t g = {PTHREAD_MUTEX_INITIALIZER, 0, 0};
    petrel_conf_t *c = petrel_conf_new();
    petrel_conf_set(c, "namesrvAddr", P.ns_addr, NULL, 0);
    petrel_conf_set(c, "groupName", "InteropCG2", NULL, 0);
    petrel_conf_set(c, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
    petrel_push_consumer_t *pc = NULL;
    assert_int_equal(petrel_push_consumer_create(c, &pc, NULL, 0), PETREL_OK);
    petrel_conf_destroy(c);
    petrel_push_consumer_subscribe(pc, "InteropB", "*");
    petrel_push_consumer_set_listener(pc, on_msg, &g);
    assert_int_equal(petrel_push_consumer_start(pc), PETREL_OK);
    assert_true(TU_WAIT_FOR(g.n >= N_MSGS, 20000));
    assert_int_equal(g.bad, 0);
    petrel_push_consumer_destroy(pc);
}

int main(void) {
    const char *src = getenv("PETREL_SRC");
    snprintf(harness, sizeof(harness), "%s/tests/compat/harness.js", src ? src : ".");
    char mod[1100];
    snprintf(mod, sizeof(mod), "%s/tests/compat/node_modules/ali-ons/package.json",
             src ? src : ".");
    if (system("node --version > /dev/null 2>&1") != 0 || access(harness, R_OK) != 0 ||
        access(mod, R_OK) != 0) {
        fprintf(stderr, "FAILED: node, tests/compat/harness.js or ali-ons not installed "
                        "(run scripts/deps.sh)\n");
        return 1;
    }
    if (start_cluster() != 0) {
        fprintf(stderr, "FAILED: could not start petrel namesrv + broker (logs in %s)\n", P.dir);
        tu_pair_kill(&P);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_petrel_to_alions),
        cmocka_unit_test(test_alions_to_petrel),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (tu_pair_stop(&P, rc != 0) != 0 || rc != 0) fprintf(stderr, "logs in %s\n", P.dir);
    return rc;
}
