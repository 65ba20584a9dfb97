/*
 * pull_consumer: assigns every queue of a topic, polls until N messages
 * arrived (or a poll finds nothing for 3 s), commits and exits.
 *
 *   pull_consumer [-n namesrv] [-t topic] [-g group] [-c count]
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <petrel/petrel.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *ns = "127.0.0.1:9876", *topic = "TopicTest", *group = "example_pull";
    long count = 1000;
    int opt;
    while ((opt = getopt(argc, argv, "n:t:g:c:")) != -1) {
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
        default:
            fprintf(stderr, "usage: %s [-n ns] [-t topic] [-g group] [-c n]\n", argv[0]);
            return 2;
        }
    }
    char err[256];
    petrel_conf_t *conf = petrel_conf_new();
    petrel_conf_set(conf, "namesrvAddr", ns, NULL, 0);
    petrel_conf_set(conf, "groupName", group, NULL, 0);
    petrel_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL, 0);
    petrel_pull_consumer_t *c = NULL;
    petrel_err_t rc = petrel_pull_consumer_create(conf, &c, err, sizeof(err));
    petrel_conf_destroy(conf);
    if (rc != PETREL_OK) {
        fprintf(stderr, "create: %s (%s)\n", petrel_strerror(rc), err);
        return 1;
    }
    petrel_pull_consumer_start(c);
    petrel_mq_t *mqs = NULL;
    size_t nq = 0;
    if ((rc = petrel_pull_consumer_fetch_queues(c, topic, &mqs, &nq)) != PETREL_OK) {
        fprintf(stderr, "fetch queues: %s\n", petrel_strerror(rc));
        petrel_pull_consumer_destroy(c);
        return 1;
    }
    petrel_pull_consumer_assign(c, mqs, nq);
    free(mqs);
    long got = 0;
    petrel_msg_t *batch[64];
    while (got < count) {
        size_t n = 0;
        if (petrel_pull_consumer_poll(c, 3000, batch, 64, &n) != PETREL_OK || n == 0) break;
        for (size_t i = 0; i < n; i++)
            petrel_msg_destroy(batch[i]);
        got += (long)n;
    }
    petrel_pull_consumer_commit(c);
    printf("pulled %ld messages from %zu queues\n", got, nq);
    petrel_pull_consumer_destroy(c);
    return 0;
}
