/*
 * Store disk-full test: the store lives on a small tmpfs (mounted here when
 * we are root; otherwise a fault-injection seam stands in for ENOSPC). Appends
 * go on until the file system is full: the store must refuse cleanly
 * (CREATE_MAPPED_FILE_FAILED / SERVICE_NOT_AVAILABLE), keep every record it
 * acknowledged intact across a reopen, and accept writes again once space
 * returns. Then the disk-usage ratio check refuses writes with a reason.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"
#include "../testutil.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "CHECK failed: %s at %s:%d\n", #c, __FILE__, __LINE__);                \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

typedef struct ack_s {
    int64_t phys, qoff;
    int32_t size, seq;
} ack_t;

static ack_t acks[100000];
static int nacks;
static char root[4200];
static int tmpfs_mounted;
static int64_t fake_left = -1; /* fault seam: bytes that may still be allocated (-1 = off) */

static int seam_alloc(int fd, int64_t len, void *arg) {
    (void)arg;
    if (fake_left >= 0) {
        if (len > fake_left) return ENOSPC;
        fake_left -= len;
    }
    return posix_fallocate(fd, 0, len);
}

static void config(store_config_t *c, int warn_ratio) {
    store_config_init(c);
    free(c->storePathRootDir);
    c->storePathRootDir = xstrdup(root);
    c->mappedFileSizeCommitLog = 256 * 1024;
    c->mappedFileSizeConsumeQueue = 20 * 1000;
    c->maxHashSlotNum = 256;
    c->maxIndexNum = 2000;
    c->flushIntervalConsumeQueue = 20;
    c->diskSpaceWarningLevelRatio = warn_ratio;
    c->diskSpaceCleanForciblyRatio = 100;
    c->diskMaxUsedSpaceRatio = 95;
    c->start_clean_thread = 0;
    if (!tmpfs_mounted) c->fallocate_fn = seam_alloc;
}

static store_t *open_store(int warn_ratio) {
    store_config_t c;
    config(&c, warn_ratio);
    store_t *s;
    char err[512];
    if (store_open(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        CHECK(0);
    }
    store_config_free(&c);
    return s;
}

static int put(store_t *s, int seq) {
    char body[1024];
    memset(body, 'a' + seq % 26, sizeof(body));
    snprintf(body, 16, "seq-%d", seq);
    char props[64];
    int pl = snprintf(props, sizeof(props), "UNIQ_KEY\x01U%d\x02", seq);
    store_msg_t m = {0};
    m.topic = "Full";
    m.topic_len = 4;
    m.queue_id = seq % 2;
    m.body = body;
    m.body_len = sizeof(body);
    m.props = props;
    m.props_len = (uint32_t)pl;
    store_put_result_t r;
    int st = store_put(s, &m, &r);
    if (st == STORE_PUT_OK) {
        CHECK(nacks < (int)(sizeof(acks) / sizeof(acks[0])));
        acks[nacks++] = (ack_t){r.phys_offset, r.queue_offset, r.wrote_bytes, seq};
    } else {
        CHECK(r.reason != NULL);
    }
    return st;
}

static void verify(store_t *s) {
    for (int i = 0; i < nacks; i++) {
        store_pinned_t p;
        CHECK(store_read_at(s, acks[i].phys, &p) == 0);
        record_view_t v;
        CHECK(record_decode(p.data, p.len, &v, RECORD_CHECK_CRC) == RECORD_OK);
        char want[16];
        snprintf(want, sizeof(want), "seq-%d", acks[i].seq);
        CHECK(memcmp(v.body, want, strlen(want)) == 0);
        CHECK(v.queue_offset == acks[i].qoff);
        store_pinned_release(&p);
        int64_t phys, tags;
        int32_t size;
        CHECK(store_cq_entry(s, "Full", acks[i].seq % 2, acks[i].qoff, &phys, &size, &tags) == 0);
        CHECK(phys == acks[i].phys);
    }
}

static void unmount_at_exit(void) {
    if (tmpfs_mounted) umount2(root, MNT_DETACH); /* also when a CHECK fails */
}

int main(void) {
    log_set_level(LOG_ERROR);
    char *dir = tu_tmpdir("store-full");
    snprintf(root, sizeof(root), "%s/mnt", dir);
    CHECK(mkdir(root, 0755) == 0);
    tmpfs_mounted = mount("tmpfs", root, "tmpfs", 0, "size=4m") == 0;
    atexit(unmount_at_exit);
    fprintf(stderr, "disk-full test on %s\n",
            tmpfs_mounted ? "a 4 MiB tmpfs" : "the fault-injection seam (no tmpfs)");
    char filler[4300];
    snprintf(filler, sizeof(filler), "%s/filler", root);
    if (tmpfs_mounted) {
        int fd = open(filler, O_CREAT | O_WRONLY, 0644);
        CHECK(fd >= 0 && posix_fallocate(fd, 0, 1 << 20) == 0);
        close(fd);
    } else {
        fake_left = 3 << 20;
    }

    /* 1. fill up: refusal is clean, nothing acknowledged is harmed */
    store_t *s = open_store(100);
    int seq = 0, st = STORE_PUT_OK;
    while ((st = put(s, seq++)) == STORE_PUT_OK)
        CHECK(seq < 100000);
    fprintf(stderr, "refused after %d messages: %s\n", nacks, store_put_status_name(st));
    CHECK(st == STORE_CREATE_MAPPED_FILE_FAILED || st == STORE_SERVICE_NOT_AVAILABLE);
    int64_t end = store_commitlog_max_offset(s);
    for (int i = 0; i < 20; i++)
        CHECK(put(s, seq++) != STORE_PUT_OK);
    CHECK(store_commitlog_max_offset(s) == end);
    verify(s);
    store_close(s);

    /* 2. reopen while still full */
    s = open_store(100);
    CHECK(store_commitlog_max_offset(s) == end);
    verify(s);

    /* 3. space returns: writes are accepted again */
    if (tmpfs_mounted)
        CHECK(unlink(filler) == 0);
    else
        fake_left = -1;
    int before = nacks;
    for (int i = 0; i < 50; i++)
        CHECK(put(s, seq++) == STORE_PUT_OK);
    CHECK(nacks == before + 50);
    store_close(s);
    s = open_store(100);
    verify(s);
    store_close(s);

    /* 4. above diskSpaceWarningLevelRatio: SERVICE_NOT_AVAILABLE with a reason */
    if (tmpfs_mounted) {
        s = open_store(10);
        CHECK(TU_WAIT_FOR(!store_is_writeable(s), 5000));
        CHECK(put(s, seq++) == STORE_SERVICE_NOT_AVAILABLE);
        verify(s);
        store_close(s);
        CHECK(umount(root) == 0);
        tmpfs_mounted = 0;
    }
    tu_rmrf(dir);
    free(dir);
    fprintf(stderr, "store disk-full test passed\n");
    return 0;
}
