/*
 * checkpoint: {root}/checkpoint, one 4096-byte page of big-endian int64
 * (storage-and-semantics.md §3.7):
 *   0 physicMsgTimestamp  store time of the last record known flushed
 *   8 logicsMsgTimestamp  store time of the last record whose consume-queue entry is flushed
 *  16 indexMsgTimestamp   end time of the newest flushed index file
 *  24 masterFlushedOffset (0)  32 confirmPhyOffset (0)
 * Rewritten in place and fdatasync'ed (every second and at shutdown).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "store/store_internal.h"

int checkpoint_open(checkpoint_t *c, const char *path) {
    memset(c, 0, sizeof(*c));
    c->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (c->fd < 0) return -errno;
    uint8_t b[40] = {0};
    ssize_t n = pread(c->fd, b, sizeof(b), 0);
    if (n >= 24) {
        c->physic_ts = (int64_t)be64_get(b);
        c->logics_ts = (int64_t)be64_get(b + 8);
        c->index_ts = (int64_t)be64_get(b + 16);
    } else {
        uint8_t page[4096] = {0};
        if (pwrite(c->fd, page, sizeof(page), 0) != (ssize_t)sizeof(page)) return -errno;
    }
    return 0;
}

int checkpoint_write(checkpoint_t *c) {
    uint8_t b[40] = {0};
    be64_put(b, (uint64_t)c->physic_ts);
    be64_put(b + 8, (uint64_t)c->logics_ts);
    be64_put(b + 16, (uint64_t)c->index_ts);
    if (pwrite(c->fd, b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
        log_error("checkpoint write: %s", strerror(errno));
        return -errno;
    }
    if (fdatasync(c->fd) != 0) return -errno;
    return 0;
}

void checkpoint_close(checkpoint_t *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}
