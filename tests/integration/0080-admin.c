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
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../testutil.h"

#define CHECK(c) TU_CHECK(c)

static tu_pair_t pair; /* the servers (or $PETREL_TEST_NAMESRV), the data dir */
static char broker_addr[64];
static char out[1 << 20], err[1 << 16];

/* Runs `petrel admin <args>` (space-separated, '~' stands for a space inside an
 * argument) with -n added; returns the exit code, output in out/err. */
static int admin(const char *fmt, ...) {
    tu_cmd_t c = {pair.dir, pair.ns_addr, out, err, sizeof out, sizeof err};
    va_list ap;
    va_start(ap, fmt);
    int rc = tu_cmd_vrun(&c, "admin", fmt, ap);
    va_end(ap);
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
    if (tu_pair_start_or_external(&pair, "petrel-admin") != 0) return 1;
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

    return tu_pair_finish(&pair);
}
