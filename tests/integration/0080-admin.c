/*
 * 0080-admin: every `petrel admin` subcommand against a real `petrel namesrv`
 * + `petrel broker` pair on free ports, checking exit codes, table output and
 * --json output. With PETREL_TEST_NAMESRV=host:port the test runs against an
 * already running NameServer instead (e.g. the Java reference broker).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../testutil.h"

static int failures;
#define CHECK(c)                                                                   \
    do {                                                                           \
        if (!(c)) {                                                                \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);           \
            failures++;                                                            \
        }                                                                          \
    } while (0)

static char ns_addr[64], broker_addr[64], tmp[512];
static char out[1 << 20], err[1 << 16];

static void slurp(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
    buf[n] = 0;
    if (f) fclose(f);
}

/* Runs `petrel admin <args>` (space-separated, '~' stands for a space inside an
 * argument) with -n added; returns the exit code, output in out/err. */
static int admin(const char *fmt, ...) {
    char line[2048], *argv[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    int n = 0;
    argv[n++] = (char *)tu_bin();
    argv[n++] = "admin";
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && n < 60; t = strtok_r(NULL, " ", &save)) {
        for (char *p = t; *p; p++)
            if (*p == '~') *p = ' ';
        argv[n++] = t;
    }
    int has_n = 0;
    for (int i = 2; i < n; i++) has_n |= !strcmp(argv[i], "-n");
    if (!has_n) {
        argv[n++] = "-n";
        argv[n++] = ns_addr;
    }
    argv[n] = NULL;
    char op[600], ep[600];
    snprintf(op, sizeof op, "%s/out", tmp);
    snprintf(ep, sizeof ep, "%s/err", tmp);
    pid_t pid = fork();
    if (pid == 0) {
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = tu_stop(pid, 0, 60000);
    slurp(op, out, sizeof out);
    slurp(ep, err, sizeof err);
    int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    if (getenv("PETREL_TEST_VERBOSE"))
        fprintf(stderr, "$ admin %s -> %d\n%s%s", argv[2], rc, out, err);
    return rc;
}

static cJSON *json_out(void) {
    cJSON *j = cJSON_Parse(out);
    if (!j) fprintf(stderr, "not JSON: %s\n", out);
    return j;
}

static int topic_listed(const char *topic) {
    if (admin("topicList") != 0) return 0;
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", topic);
    char buf[sizeof out + 2];
    snprintf(buf, sizeof buf, "\n%s", out);
    return strstr(buf, want) != NULL;
}

static int route_perm(const char *topic) {
    if (admin("topicRoute -t %s --json", topic) != 0) return -1;
    cJSON *j = json_out();
    cJSON *qd = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "queueDatas"), 0);
    int perm = qd ? cJSON_GetObjectItem(qd, "perm")->valueint : -1;
    cJSON_Delete(j);
    return perm;
}

static int key_found(const char *topic, const char *key, const char *msg_id) {
    return admin("queryMsgByKey -t %s -k %s --json", topic, key) == 0 && strstr(out, msg_id);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    char *td = tu_tmpdir("petrel-admin");
    snprintf(tmp, sizeof tmp, "%s", td);
    free(td); /* malloc'd by testutil */
    pid_t ns_pid = 0, br_pid = 0;
    const char *ext = getenv("PETREL_TEST_NAMESRV");
    if (ext) {
        snprintf(ns_addr, sizeof ns_addr, "%s", ext);
    } else {
        int np = tu_free_port(), bp = tu_free_port();
        char a1[64], a2[600], a3[64], a4[128], a5[600], log[600];
        snprintf(ns_addr, sizeof ns_addr, "127.0.0.1:%d", np);
        snprintf(a1, sizeof a1, "--listenPort=%d", np);
        snprintf(a2, sizeof a2, "--kvConfigPath=%s/kvConfig.json", tmp);
        snprintf(log, sizeof log, "%s/namesrv.log", tmp);
        char *nargv[] = {NULL, "namesrv", a1, a2, NULL};
        ns_pid = tu_spawn(nargv, log);
        /* the broker registers once at start, then every 30 s: let the NameServer listen first */
        if (tu_wait_port(np, 10000)) {
            fprintf(stderr, "FAIL: petrel namesrv did not start (log in %s)\n", tmp);
            tu_stop(ns_pid, SIGKILL, 5000);
            return 1;
        }
        snprintf(a3, sizeof a3, "--listenPort=%d", bp);
        snprintf(a4, sizeof a4, "--namesrvAddr=%s", ns_addr);
        snprintf(a5, sizeof a5, "--storePathRootDir=%s/store", tmp);
        snprintf(log, sizeof log, "%s/broker.log", tmp);
        char *bargv[] = {NULL, "broker", a3, a4, a5, "--brokerName=broker-a",
                         "--brokerIP1=127.0.0.1", NULL};
        br_pid = tu_spawn(bargv, log);
        if (tu_wait_port(bp, 10000)) {
            fprintf(stderr, "FAIL: petrel namesrv/broker did not start (logs in %s)\n", tmp);
            if (ns_pid) tu_stop(ns_pid, SIGKILL, 5000);
            if (br_pid) tu_stop(br_pid, SIGKILL, 5000);
            return 1;
        }
    }
    char topic[64], group[64];
    snprintf(topic, sizeof topic, "AdmT%d", (int)getpid());
    snprintf(group, sizeof group, "AdmG%d", (int)getpid());

    /* help and usage */
    CHECK(admin("--help") == 0 && strstr(out, "updateTopic") && strstr(out, "wipeWritePerm"));
    CHECK(admin("updateTopic --help") == 0 && strstr(out, "-t <topic>"));
    CHECK(admin("topicRoute") == 2 && strstr(err, "missing required option -t"));
    CHECK(admin("noSuchCommand") == 2);

    /* clusterList: wait for the broker's registration */
    CHECK(TU_WAIT_FOR(admin("clusterList --json") == 0 && strstr(out, "broker-a"), 15000));
    cJSON *j = json_out();
    cJSON *row = cJSON_GetArrayItem(j, 0);
    CHECK(row && cJSON_IsString(cJSON_GetObjectItem(row, "addr")));
    if (row) snprintf(broker_addr, sizeof broker_addr, "%s", cJSON_GetObjectItem(row, "addr")->valuestring);
    CHECK(row && !strcmp(cJSON_GetObjectItem(row, "status")->valuestring, "ok"));
    cJSON_Delete(j);
    CHECK(admin("clusterList") == 0 && strstr(out, "CLUSTER") && strstr(out, "broker-a"));

    /* topics */
    CHECK(admin("updateTopic -c DefaultCluster -t %s -r 4 -w 4", topic) == 0 &&
          strstr(out, "READ") && strstr(out, topic));
    CHECK(TU_WAIT_FOR(topic_listed(topic), 15000));
    CHECK(admin("topicList --json") == 0 && strstr(out, "\"topicList\""));
    CHECK(admin("topicRoute -t %s --json", topic) == 0);
    j = json_out();
    cJSON *qd = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "queueDatas"), 0);
    CHECK(qd && cJSON_GetObjectItem(qd, "writeQueueNums")->valueint == 4);
    cJSON_Delete(j);
    CHECK(admin("topicRoute -t %s", topic) == 0 && strstr(out, "MASTER") && strstr(out, broker_addr));
    CHECK(admin("topicClusterList -t %s", topic) == 0 && strstr(out, "DefaultCluster"));
    CHECK(admin("topicRoute -t NoSuchTopic%d", (int)getpid()) == 4 && strstr(err, "topic not found"));

    /* send and find a message every way */
    CHECK(admin("sendMessage -t %s -p hello~admin -k K%d -c TagA --json", topic, (int)getpid()) == 0);
    j = json_out();
    char msg_id[64] = "", off_id[64] = "";
    int qid = -1, qoff = -1;
    if (j) {
        snprintf(msg_id, sizeof msg_id, "%s", cJSON_GetObjectItem(j, "msgId")->valuestring);
        snprintf(off_id, sizeof off_id, "%s", cJSON_GetObjectItem(j, "offsetMsgId")->valuestring);
        qid = cJSON_GetObjectItem(j, "queueId")->valueint;
        qoff = cJSON_GetObjectItem(j, "queueOffset")->valueint;
    }
    cJSON_Delete(j);
    CHECK(strlen(off_id) == 32 && qid >= 0 && qoff == 0);
    CHECK(admin("sendMessage -t %s -p second", topic) == 0 && strstr(out, "SEND_OK"));

    CHECK(admin("topicStatus -t %s --json", topic) == 0);
    j = json_out();
    int total = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, j) total += cJSON_GetObjectItem(e, "maxOffset")->valueint;
    CHECK(total == 2 && cJSON_GetArraySize(j) == 4);
    cJSON_Delete(j);
    CHECK(admin("topicStatus -t %s", topic) == 0 && strstr(out, "MAX_OFFSET"));

    CHECK(admin("queryMsgById -i %s --json", off_id) == 0 && strstr(out, "\"body\":\t\"hello admin\""));
    CHECK(admin("queryMsgById -i %s", off_id) == 0 && strstr(out, "hello admin") && strstr(out, "TagA"));
    char key[32];
    snprintf(key, sizeof key, "K%d", (int)getpid());
    CHECK(TU_WAIT_FOR(key_found(topic, key, msg_id), 10000));
    CHECK(admin("queryMsgByKey -t %s -k %s", topic, key) == 0 && strstr(out, "OFFSET_MSG_ID"));
    CHECK(admin("queryMsgByKey -t %s -k nokey", topic) == 4);
    CHECK(admin("queryMsgByUniqueKey -t %s -i %s --json", topic, msg_id) == 0 &&
          strstr(out, "hello admin"));
    CHECK(admin("queryMsgByOffset -t %s -b broker-a -i %d -o 0 --json", topic, qid) == 0 &&
          strstr(out, "hello admin"));
    CHECK(admin("queryMsgByOffset -t %s -b broker-a -i %d -o 99", topic, qid) == 4);
    CHECK(admin("printMsg -t %s --json", topic) == 0);
    j = json_out();
    CHECK(cJSON_GetArraySize(j) == 2);
    cJSON_Delete(j);
    CHECK(admin("printMsg -t %s", topic) == 0 && strstr(out, "hello admin") && strstr(out, "BODY"));
    CHECK(admin("consumeMessage -t %s -c 1 --json", topic) == 0);
    j = json_out();
    CHECK(cJSON_GetArraySize(j) == 1);
    cJSON_Delete(j);

    /* groups and offsets */
    CHECK(admin("updateSubGroup -c DefaultCluster -g %s", group) == 0 && strstr(out, group));
    CHECK(admin("resetOffsetByTime -g %s -t %s -s 0 --json", group, topic) == 0);
    CHECK(admin("consumerProgress -g %s -t %s --json", group, topic) == 0);
    j = json_out();
    CHECK(j && cJSON_GetObjectItem(j, "diffTotal") &&
          cJSON_GetObjectItem(j, "diffTotal")->valueint == 2);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "queues")) == 4);
    cJSON_Delete(j);
    CHECK(admin("consumerProgress -g %s -t %s", group, topic) == 0 && strstr(out, "Diff Total: 2") &&
          strstr(out, "CONSUMER_OFFSET"));
    CHECK(admin("consumerProgress") == 0 && strstr(out, "DIFF_TOTAL") && strstr(out, group));
    CHECK(admin("consumerConnection -g %s", group) == 4 && strstr(err, "not online"));
    CHECK(admin("producerConnection -g NoSuchProducer -t %s", topic) != 0 && strchr(err, '\n') == strrchr(err, '\n'));
    CHECK(admin("deleteSubGroup -b %s -g %s", broker_addr, group) == 0 && strstr(out, "deleted"));

    /* broker status and config */
    CHECK(admin("brokerStatus -b %s --json", broker_addr) == 0);
    j = json_out();
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, broker_addr)) > 5);
    cJSON_Delete(j);
    CHECK(admin("brokerStatus -b %s", broker_addr) == 0 && strstr(out, "KEY"));
    CHECK(admin("getBrokerConfig -b %s --json", broker_addr) == 0);
    j = json_out();
    cJSON *cfg = cJSON_GetObjectItem(j, broker_addr);
    CHECK(cfg && cJSON_GetObjectItem(cfg, "brokerName") &&
          !strcmp(cJSON_GetObjectItem(cfg, "brokerName")->valuestring, "broker-a"));
    cJSON_Delete(j);
    CHECK(admin("updateBrokerConfig -b %s -k fileReservedTime -v 49", broker_addr) == 0);
    CHECK(admin("getBrokerConfig -b %s", broker_addr) == 0 && strstr(out, "fileReservedTime") &&
          strstr(out, "49"));

    /* KV config */
    CHECK(admin("updateKvConfig -s PETREL_TEST -k k1 -v v1") == 0);
    CHECK(admin("getKvConfig -s PETREL_TEST -k k1") == 0 && !strcmp(out, "v1\n"));
    CHECK(admin("deleteKvConfig -s PETREL_TEST -k k1") == 0);
    CHECK(admin("getKvConfig -s PETREL_TEST -k k1") == 4);

    /* write permission */
    CHECK(admin("wipeWritePerm -b broker-a --json") == 0 && strstr(out, "wipeTopicCount"));
    CHECK((route_perm(topic) & 2) == 0);
    CHECK(admin("addWritePerm -b broker-a") == 0);
    CHECK(route_perm(topic) == 6);

    /* delete the topic */
    CHECK(admin("deleteTopic -c DefaultCluster -t %s", topic) == 0 && strstr(out, "deleted"));
    CHECK(TU_WAIT_FOR(admin("topicRoute -t %s", topic) == 4, 10000));

    /* unreachable NameServer: one line, exit 3 */
    int dead = tu_free_port();
    CHECK(admin("topicList -n 127.0.0.1:%d", dead) == 3 && strstr(err, "connect to NameServer") &&
          strchr(err, '\n') == strrchr(err, '\n'));

    if (br_pid) tu_stop(br_pid, SIGTERM, 10000);
    if (ns_pid) tu_stop(ns_pid, SIGTERM, 10000);
    if (!failures) tu_rmrf(tmp);
    else fprintf(stderr, "%d checks failed (files in %s)\n", failures, tmp);
    return failures ? 1 : 0;
}
