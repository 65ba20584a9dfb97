/*
 * bstore: opening the store with the broker's settings, and the few store
 * reads the broker's handlers share.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"
#include "store/store.h"

static void set_str(char **p, const char *v) {
    free(*p);
    *p = xstrdup(v ? v : "");
}

int bs_open(broker_t *b, char *err, size_t errlen) {
    store_config_t sc;
    store_config_init(&sc);
    broker_config_t *c = &b->conf;
    set_str(&sc.storePathRootDir, c->storePathRootDir);
    set_str(&sc.storePathCommitLog, c->storePathCommitLog);
    set_str(&sc.deleteWhen, c->deleteWhen);
    sc.mappedFileSizeCommitLog = c->mappedFileSizeCommitLog;
    sc.mappedFileSizeConsumeQueue = c->mappedFileSizeConsumeQueue;
    sc.flushDiskType = c->flushDiskType ? STORE_SYNC_FLUSH : STORE_ASYNC_FLUSH;
    sc.flushIntervalCommitLog = c->flushIntervalCommitLog;
    sc.flushIntervalConsumeQueue = c->flushIntervalConsumeQueue;
    sc.syncFlushTimeout = c->syncFlushTimeout;
    /* The store's limit is on the whole record: body + 64 KiB (MessageExtEncoder);
     * the broker checks the body itself. */
    sc.maxMessageSize = c->maxMessageSize + 65536;
    sc.fileReservedTime = c->fileReservedTime;
    sc.diskMaxUsedSpaceRatio = c->diskMaxUsedSpaceRatio;
    sc.messageIndexEnable = c->messageIndexEnable;
    sc.maxTransferBytesOnMessageInMemory = c->maxTransferBytesOnMessageInMemory;
    sc.maxTransferCountOnMessageInMemory = c->maxTransferCountOnMessageInMemory;
    sc.maxTransferBytesOnMessageInDisk = c->maxTransferBytesOnMessageInDisk;
    sc.maxTransferCountOnMessageInDisk = c->maxTransferCountOnMessageInDisk;
    sc.commitLogWriteMode = c->commitLogWriteMode;
    sc.commitLogCacheWindowMB = c->commitLogCacheWindowMB;
    sc.tags_code_fn = schedule_tags_code_fn;
    sc.tags_code_arg = b;
    store_t *s = NULL;
    int rc = store_open(&sc, &s, err, errlen);
    store_config_free(&sc);
    if (rc != 0) return -1;
    b->store = s;
    return 0;
}

void bs_close(broker_t *b) {
    ha_glue_stop(b); /* the HA thread reads the store */
    if (b->store) store_close(b->store);
    b->store = NULL;
}

int64_t bs_min_offset(broker_t *b, const char *topic, int32_t qid) {
    int64_t v = store_min_offset(b->store, topic, qid);
    return v < 0 ? 0 : v;
}

int64_t bs_max_offset(broker_t *b, const char *topic, int32_t qid) {
    int64_t v = store_max_offset(b->store, topic, qid);
    return v < 0 ? 0 : v;
}

int64_t bs_offset_by_time(broker_t *b, const char *topic, int32_t qid, int64_t ts, int upper) {
    int64_t off = store_offset_by_time(b->store, topic, qid, ts);
    if (upper) {
        /* Last message whose store time <= ts. */
        int64_t max = bs_max_offset(b, topic, qid);
        int64_t o = off;
        while (o < max) {
            int64_t t = store_msg_store_time(b->store, topic, qid, o);
            if (t < 0 || t > ts) break;
            o++;
        }
        if (o > off) off = o - 1;
        else if (off > bs_min_offset(b, topic, qid)) off = off - 1 < 0 ? 0 : off - 1;
    }
    return off < 0 ? 0 : off;
}

int64_t bs_store_time(broker_t *b, const char *topic, int32_t qid, int64_t off) {
    return store_msg_store_time(b->store, topic, qid, off);
}

void bs_delete_topic(broker_t *b, const char *topic) { store_delete_topic(b->store, topic); }
