/*
 * producer: sends N messages with libpetrel, synchronously or asynchronously,
 * and prints the throughput.
 *
 *   producer [-n namesrv] [-t topic] [-c count] [-s size] [-a (async)] [-w window]
 *            [-o key=value (any configuration key; repeatable)]
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <petrel/petrel.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic long done, failed, inflight;

static void on_sent(petrel_producer_t *p, petrel_err_t err, const petrel_send_result_t *res,
                    void *opaque) {
    if (err != PETREL_OK) atomic_fetch_add(&failed, 1);
    atomic_fetch_add(&done, 1);
    atomic_fetch_sub(&inflight, 1);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *ns = "127.0.0.1:9876", *topic = "TopicTest";
    long count = 1000, window = 1000;
    int size = 100, async = 0, opt, n_opts = 0;
    const char *opts[8];
    while ((opt = getopt(argc, argv, "n:t:c:s:aw:o:")) != -1) {
        switch (opt) {
        case 'n':
            ns = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 's':
            size = atoi(optarg);
            break;
        case 'a':
            async = 1;
            break;
        case 'w':
            window = atol(optarg);
            break;
        case 'o':
            opts[n_opts++ % 8] = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-n ns] [-t topic] [-c n] [-s bytes] [-a] [-w w] [-o k=v]\n",
                    argv[0]);
            return 2;
        }
    }
    char err[256];
    petrel_conf_t *conf = petrel_conf_new();
    petrel_conf_set(conf, "namesrvAddr", ns, NULL, 0);
    petrel_conf_set(conf, "groupName", "example_producer", NULL, 0);
    for (int i = 0; i < n_opts && i < 8; i++) {
        char kv[256], *eq;
        snprintf(kv, sizeof(kv), "%s", opts[i]);
        if (!(eq = strchr(kv, '=')) ||
            (*eq = 0, petrel_conf_set(conf, kv, eq + 1, err, sizeof(err))) != PETREL_OK) {
            fprintf(stderr, "bad -o %s: %s\n", opts[i], err);
            return 2;
        }
    }
    petrel_producer_t *p = NULL;
    petrel_err_t rc = petrel_producer_create(conf, &p, err, sizeof(err));
    petrel_conf_destroy(conf); /* the producer keeps its own copy */
    if (rc != PETREL_OK) {
        fprintf(stderr, "create: %s (%s)\n", petrel_strerror(rc), err);
        return 1;
    }
    if ((rc = petrel_producer_start(p)) != PETREL_OK) {
        fprintf(stderr, "start: %s\n", petrel_strerror(rc));
        petrel_producer_destroy(p);
        return 1;
    }
    char *body = malloc((size_t)size);
    memset(body, 'x', (size_t)size);
    petrel_msg_t *msg = petrel_msg_new(topic);
    petrel_msg_set_tags(msg, "TagA");
    petrel_msg_set_body(msg, body, (size_t)size);
    double t0 = now_s();
    long sync_failed = 0;
    for (long i = 0; i < count; i++) {
        if (async) {
            while (atomic_load(&inflight) >= window)
                usleep(50);
            atomic_fetch_add(&inflight, 1);
            if (petrel_producer_send_async(p, msg, on_sent, NULL) != PETREL_OK) {
                atomic_fetch_sub(&inflight, 1);
                atomic_fetch_add(&failed, 1);
                atomic_fetch_add(&done, 1);
            }
        } else {
            petrel_send_result_t res;
            if ((rc = petrel_producer_send(p, msg, &res)) != PETREL_OK) {
                if (sync_failed++ < 5) fprintf(stderr, "send: %s\n", petrel_strerror(rc));
            }
            atomic_fetch_add(&done, 1);
        }
    }
    while (atomic_load(&done) < count)
        usleep(100);
    double dt = now_s() - t0;
    long bad = async ? atomic_load(&failed) : sync_failed;
    printf("%s %ld msgs of %d B in %.2f s: %.0f msg/s, %.1f MiB/s, %ld failed\n",
           async ? "async" : "sync", count, size, dt, count / dt,
           count * (double)size / dt / 1048576.0, bad);
    petrel_msg_destroy(msg);
    free(body);
    petrel_producer_destroy(p);
    return bad ? 1 : 0;
}
