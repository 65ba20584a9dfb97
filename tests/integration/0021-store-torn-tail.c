/*
 * Store torn-tail test: damage the end of the commit log in the ways a crash
 * or a bad disk can (zeroed tail of the last record, a flipped body byte, a
 * segment file cut short, garbage after the last record, a corrupt record in
 * the middle), reopen with and without the abort file, and check that
 * recovery cuts exactly at the first bad record: everything before it intact,
 * the consume queue truncated to match, and new appends continuing there.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/record.h"
#include "common/util.h"
#include "store/store.h"
#include "../testutil.h"

#define SEG (128 * 1024)
#define N 300

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "CHECK failed: %s at %s:%d (scenario %s)\n", #c, __FILE__, __LINE__,   \
                    g_scn);                                                                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static const char *g_scn = "setup";
static int64_t phys[N + 1];
static int32_t sizes[N + 1];

static store_t *open_at(const char *dir) {
    store_config_t c;
    store_config_init(&c);
    free(c.storePathRootDir);
    c.storePathRootDir = xstrdup(dir);
    c.mappedFileSizeCommitLog = SEG;
    c.mappedFileSizeConsumeQueue = 20 * 64;
    c.maxHashSlotNum = 64;
    c.maxIndexNum = 1000;
    c.start_clean_thread = 0;
    store_t *s;
    char err[512];
    if (store_open(&c, &s, err, sizeof(err)) != 0) {
        fprintf(stderr, "store_open: %s\n", err);
        CHECK(0);
    }
    store_config_free(&c);
    return s;
}

static int put(store_t *s, int i, store_put_result_t *r) {
    char body[2000];
    size_t len = 10 + (size_t)(i * 37 % 1900);
    memset(body, 'a' + i % 26, len);
    store_msg_t m = {0};
    m.topic = "Torn";
    m.topic_len = 4;
    m.body = body;
    m.body_len = (uint32_t)len;
    return store_put(s, &m, r);
}

static void seg_path(char *out, size_t n, const char *dir, int64_t off) {
    snprintf(out, n, "%s/commitlog/%020lld", dir, (long long)(off / SEG * SEG));
}

static void damage_write(const char *dir, int64_t off, const void *data, size_t len) {
    char p[4400];
    seg_path(p, sizeof(p), dir, off);
    int fd = open(p, O_RDWR);
    CHECK(fd >= 0);
    CHECK(pwrite(fd, data, len, off % SEG) == (ssize_t)len);
    close(fd);
}

/* Reopens and checks that exactly the first `survive` records are left. */
static void check_cut(const char *dir, int survive, int crash) {
    char p[4400];
    snprintf(p, sizeof(p), "%s/abort", dir);
    if (crash) close(open(p, O_CREAT | O_WRONLY, 0644));
    store_t *s = open_at(dir);
    CHECK(store_max_offset(s, "Torn", 0) == survive);
    CHECK(store_commitlog_max_offset(s) == phys[survive] || survive == N);
    for (int i = 0; i < survive; i++) {
        store_pinned_t pin;
        CHECK(store_read_at(s, phys[i], &pin) == 0);
        record_view_t v;
        CHECK(record_decode(pin.data, pin.len, &v, RECORD_CHECK_CRC) == RECORD_OK);
        CHECK(v.queue_offset == i && (int32_t)pin.len == sizes[i]);
        store_pinned_release(&pin);
    }
    store_pinned_t pin;
    CHECK(store_read_at(s, phys[survive], &pin) == -1 || survive == N);
    store_put_result_t r;
    CHECK(put(s, survive, &r) == STORE_PUT_OK);
    CHECK(r.queue_offset == survive);
    store_close(s);
    /* the cut is permanent: a normal reopen sees survive + 1 */
    s = open_at(dir);
    CHECK(store_max_offset(s, "Torn", 0) == survive + 1);
    store_get_result_t g;
    CHECK(store_get(s, "Torn", 0, survive, 32, 0, NULL, NULL, &g) == STORE_GET_FOUND);
    CHECK(g.msg_count == 1);
    record_view_t v;
    CHECK(record_decode(g.msgs[0].data, g.msgs[0].len, &v, RECORD_CHECK_CRC) == RECORD_OK);
    store_get_release(&g);
    store_close(s);
}

static void copy_dir(const char *from, const char *to) {
    char cmd[9000];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
    CHECK(system(cmd) == 0);
}

int main(void) {
    log_set_level(LOG_ERROR);
    char *base = tu_tmpdir("store-torn");
    char orig[4200], work[4200];
    snprintf(orig, sizeof(orig), "%s/orig", base);
    snprintf(work, sizeof(work), "%s/work", base);
    store_t *s = open_at(orig);
    for (int i = 0; i < N; i++) {
        store_put_result_t r;
        CHECK(put(s, i, &r) == STORE_PUT_OK);
        phys[i] = r.phys_offset;
        sizes[i] = r.wrote_bytes;
    }
    phys[N] = store_commitlog_max_offset(s);
    store_close(s);
    int last = N - 1;

    for (int crash = 0; crash <= 1; crash++) {
        g_scn = "zeroed tail of the last record";
        copy_dir(orig, work);
        char zeros[4096] = {0};
        int64_t cut = sizes[last] / 2;
        damage_write(work, phys[last] + cut, zeros, (size_t)(sizes[last] - cut));
        check_cut(work, last, crash);

        g_scn = "flipped body byte in the last record";
        copy_dir(orig, work);
        damage_write(work, phys[last] + 100, "\xff", 1);
        check_cut(work, last, crash);

        g_scn = "TOTALSIZE of the last record zeroed";
        copy_dir(orig, work);
        damage_write(work, phys[last], zeros, 4);
        check_cut(work, last, crash);

        g_scn = "garbage after the last record";
        copy_dir(orig, work);
        uint8_t junk[200];
        for (int i = 0; i < 200; i++)
            junk[i] = (uint8_t)(i * 131 + 7);
        be32_put(junk, 150);
        be32_put(junk + 4, RECORD_MAGIC_V1);
        damage_write(work, phys[N], junk, sizeof(junk));
        check_cut(work, N, crash);

        g_scn = "segment file cut short";
        copy_dir(orig, work);
        char p[4400];
        seg_path(p, sizeof(p), work, phys[last]);
        if (phys[last] % SEG + 10 < SEG) {
            CHECK(truncate(p, phys[last] % SEG + 10) == 0);
            check_cut(work, last, crash);
        }

        g_scn = "corrupt record in the middle";
        copy_dir(orig, work);
        int mid = N / 2;
        damage_write(work, phys[mid] + 95, "\x00\x01", 2);
        check_cut(work, mid, crash);
    }
    tu_rmrf(base);
    free(base);
    fprintf(stderr, "store torn-tail test passed\n");
    return 0;
}
