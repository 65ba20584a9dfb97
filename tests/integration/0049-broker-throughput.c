/*
 * Throughput figures (printed, not asserted): produce with 4 connections
 * each keeping 128 SEND_MESSAGE_V2 in flight, then consume the 8 queues with
 * one puller per queue (32 messages per PULL_MESSAGE), for 100 B and 1 KiB
 * bodies, against a real broker (ASYNC_FLUSH). Asserts only that every
 * message is acknowledged and read back once. PETREL_BENCH_MSGS overrides
 * the message count.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "../broker_client.h"
#include "../testutil.h"
#include "common/util.h"

#define CONNS 4
#define WINDOW 128
#define QUEUES 8

static int port;
static pid_t pid;
static char *dir;

typedef struct job_s {
    const char *topic;
    int idx;
    int64_t count;
    size_t size;
    int64_t ok;
} job_t;

static void *producer(void *arg) {
    job_t *j = arg;
    bc_t c;
    if (bc_connect(&c, port) != 0) return NULL;
    char *body = malloc(j->size);
    memset(body, 'a' + j->idx, j->size);
    char q[16];
    int64_t sent = 0, done = 0;
    while (done < j->count) {
        while (sent < j->count && sent - done < WINDOW) {
            snprintf(q, sizeof(q), "%d", (int)((sent * CONNS + j->idx) % QUEUES));
            const char *ext[] = {"a", "PG", "b", j->topic, "c", "TBW102", "d", "8", "e", q,
                                 "f", "0", "g", "1700000000000", "h", "0",
                                 "i", "TAGS\001bench\002", NULL};
            if (bc_send(&c, SEND_MESSAGE_V2, 0, ext, body, j->size) < 0) goto out;
            sent++;
        }
        rm_cmd_t r;
        if (bc_read(&c, &r, 30000) != 0) goto out;
        if (!rm_is_response(&r)) continue;
        if (r.code == SUCCESS) j->ok++;
        done++;
    }
out:
    free(body);
    bc_close(&c);
    return NULL;
}

static void *consumer(void *arg) {
    job_t *j = arg;
    bc_t c;
    if (bc_connect(&c, port) != 0) return NULL;
    int64_t off = 0;
    for (;;) {
        rm_cmd_t r;
        if (bc_pull(&c, "G_BENCH", j->topic, j->idx, off, 32, 4, "*", 0, &r, 30000) != 0) break;
        if (r.code != SUCCESS) break;
        size_t pos = 0;
        while (pos + 4 <= r.body_len) {
            uint32_t n = be32_get(r.body + pos);
            if (n < 20 || pos + n > r.body_len) break;
            pos += n;
            j->ok++;
        }
        off = bc_ext_i64(&r, "nextBeginOffset");
    }
    bc_close(&c);
    return NULL;
}

static void run(const char *topic, size_t size, int64_t total) {
    pthread_t th[QUEUES];
    job_t jobs[QUEUES];
    int64_t t0 = tu_now_ms();
    for (int i = 0; i < CONNS; i++) {
        jobs[i] = (job_t){topic, i, total / CONNS, size, 0};
        pthread_create(&th[i], NULL, producer, &jobs[i]);
    }
    int64_t acked = 0;
    for (int i = 0; i < CONNS; i++) {
        pthread_join(th[i], NULL);
        acked += jobs[i].ok;
    }
    int64_t t1 = tu_now_ms();
    assert_int_equal(acked, total / CONNS * CONNS);
    for (int i = 0; i < QUEUES; i++) {
        jobs[i] = (job_t){topic, i, 0, size, 0};
        pthread_create(&th[i], NULL, consumer, &jobs[i]);
    }
    int64_t got = 0;
    for (int i = 0; i < QUEUES; i++) {
        pthread_join(th[i], NULL);
        got += jobs[i].ok;
    }
    int64_t t2 = tu_now_ms();
    assert_int_equal(got, acked);
    double ps = (double)(t1 - t0) / 1000.0, cs = (double)(t2 - t1) / 1000.0;
    printf("BENCH %zu B: produce %lld msgs in %.2f s = %.0f msgs/s (%.1f MB/s); "
           "consume %lld in %.2f s = %.0f msgs/s\n",
           size, (long long)acked, ps, ps > 0 ? (double)acked / ps : 0.0,
           ps > 0 ? (double)acked * (double)size / ps / 1e6 : 0.0, (long long)got, cs,
           cs > 0 ? (double)got / cs : 0.0);
    fflush(stdout);
}

static int64_t msgs(void) {
    const char *e = getenv("PETREL_BENCH_MSGS");
    if (e) return atoll(e);
    const char *s = getenv("PETREL_TEST_TIMEOUT_SCALE");
    return s && atoi(s) > 1 ? 8000 : 100000;
}

static void test_throughput(void **state) {
    (void)state;
    run("Bench100", 100, msgs());
    run("Bench1K", 1024, msgs());
}

static int setup(void **state) {
    (void)state;
    dir = tu_tmpdir("petrel-it-bbench");
    port = tu_free_port();
    const char *extra[] = {"--mappedFileSizeCommitLog=268435456", NULL};
    pid = bc_spawn_broker(dir, port, extra, NULL);
    return pid > 0 ? 0 : -1;
}

static int teardown(void **state) {
    (void)state;
    int st = bc_stop(pid, 15, 30000);
    tu_rmrf(dir);
    free(dir);
    return tu_exited_ok(st) ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_throughput)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
