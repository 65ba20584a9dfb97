/*
 * push_consumer: consumes a topic with a concurrent listener until N messages
 * arrived (or forever with -c 0), printing the rate.
 *
 *   push_consumer [-n namesrv] [-t topic] [-g group] [-c count] [-b (broadcasting)]
 *                 [-o key=value (any configuration key; repeatable)]
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

static _Atomic long received;

static petrel_consume_status_t on_msg(petrel_push_consumer_t *c, const petrel_msg_t *msg,
                                      void *opaque) {
    long n = atomic_fetch_add(&received, 1) + 1;
    if (opaque && n <= 3) {
        size_t len;
        petrel_msg_body(msg, &len);
        printf("got %s tag=%s queue=%d offset=%lld %zu bytes\n", petrel_msg_id(msg),
               petrel_msg_tags(msg) ? petrel_msg_tags(msg) : "-", petrel_msg_queue_id(msg),
               (long long)petrel_msg_queue_offset(msg), len);
    }
    return PETREL_CONSUME_SUCCESS;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    const char *ns = "127.0.0.1:9876", *topic = "TopicTest", *group = "example_consumer";
    long count = 1000;
    int bcast = 0, opt, n_opts = 0;
    const char *opts[8];
    while ((opt = getopt(argc, argv, "n:t:g:c:bo:")) != -1) {
        switch (opt) {
        case 'n':
            ns = optarg;
            break;
        case 't':
            topic = optarg;
            break;
        case 'g':
            group = optarg;
            break;
        case 'c':
            count = atol(optarg);
            break;
        case 'b':
            bcast = 1;
            break;
        case 'o':
            opts[n_opts++ % 8] = optarg;
            break;
        default:
            fprintf(stderr, "usage: %s [-n ns] [-t topic] [-g group] [-c n] [-b]\n", argv[0]);
            return 2;
        }
    }
    char err[256];
    petrel_conf_t *conf = petrel_conf_new();
    petrel_conf_set(conf, "namesrvAddr", ns, NULL, 0);
    petrel_conf_set(conf, "groupName", group, NULL, 0);
    petrel_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
    if (bcast) petrel_conf_set(conf, "messageModel", "BROADCASTING", NULL, 0);
    for (int i = 0; i < n_opts && i < 8; i++) {
        char kv[256], *eq;
        snprintf(kv, sizeof(kv), "%s", opts[i]);
        if (!(eq = strchr(kv, '=')) ||
            (*eq = 0, petrel_conf_set(conf, kv, eq + 1, err, sizeof(err))) != PETREL_OK) {
            fprintf(stderr, "bad -o %s: %s\n", opts[i], err);
            return 2;
        }
    }
    petrel_push_consumer_t *c = NULL;
    petrel_err_t rc = petrel_push_consumer_create(conf, &c, err, sizeof(err));
    petrel_conf_destroy(conf);
    if (rc != PETREL_OK) {
        fprintf(stderr, "create: %s (%s)\n", petrel_strerror(rc), err);
        return 1;
    }
    petrel_push_consumer_subscribe(c, topic, "*");
    petrel_push_consumer_set_listener(c, on_msg, (void *)1);
    if ((rc = petrel_push_consumer_start(c)) != PETREL_OK) {
        fprintf(stderr, "start: %s\n", petrel_strerror(rc));
        petrel_push_consumer_destroy(c);
        return 1;
    }
    double t0 = 0;
    while (count == 0 || atomic_load(&received) < count) {
        if (t0 == 0 && atomic_load(&received) > 0) t0 = now_s();
        usleep(1000);
    }
    double dt = now_s() - t0;
    printf("consumed %ld msgs in %.2f s: %.0f msg/s\n", count, dt, count / (dt > 0 ? dt : 1));
    petrel_push_consumer_destroy(c); /* persists offsets */
    return 0;
}
