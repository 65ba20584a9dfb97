/*
 * bench_replication: produce load on a master (pipelined SEND_MESSAGE_V2 on
 * one connection) while sampling the master's and the slave's commit log max
 * offsets (GET_BROKER_RUNTIME_INFO) every 100 ms; prints the send rate, the
 * reply codes, the largest replication lag seen, and how long the slave took
 * to reach the master's end after the last reply.
 *
 *   bench_replication MASTER_PORT SLAVE_PORT [messages=200000] [size=1024] [window=256]
 *   bench_replication MASTER_PORT SLAVE_PORT watch SECONDS   (lag only, e.g. under petrel bench)
 *
 * Build (from the repo root, after make build):
 *   cc -O2 -std=gnu11 -Isrc -Itests bench/bench_replication.c tests/testutil.c \
 *      build/src/remoting/libpetrel_remoting.a build/src/common/libpetrel_common.a \
 *      -luv -lcjson -lz -lpthread -o build/bench_replication
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker_client.h"

static int64_t cl_max(int port) {
    bc_t c;
    if (bc_connect(&c, port) != 0) return -1;
    rm_cmd_t r;
    int64_t v = -1;
    if (bc_call(&c, GET_BROKER_RUNTIME_INFO, NULL, NULL, 0, &r, 5000) == 0 && r.code == SUCCESS) {
        const char *p = strstr(bc_body(&r), "\"commitLogMaxOffset\":\"");
        if (p) v = strtoll(p + 22, NULL, 10);
    }
    bc_close(&c);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s MASTER_PORT SLAVE_PORT [messages] [size] [window]\n", argv[0]);
        return 2;
    }
    int mport = atoi(argv[1]), sport = atoi(argv[2]);
    if (argc > 4 && strcmp(argv[3], "watch") == 0) {
        int64_t end = tu_now_ms() + atoi(argv[4]) * 1000, maxl = 0, sum = 0, n = 0, m = 0, s = 0;
        while (tu_now_ms() < end) {
            m = cl_max(mport);
            s = cl_max(sport);
            if (m >= 0 && s >= 0) {
                if (m - s > maxl) maxl = m - s;
                sum += m - s;
                n++;
            }
            tu_sleep_ms(100);
        }
        printf("lag over %" PRId64 " samples (100 ms): max %" PRId64 " bytes, mean %" PRId64
               " bytes; master %" PRId64 ", slave %" PRId64 "\n",
               n, maxl, n ? sum / n : 0, m, s);
        return 0;
    }
    long n = argc > 3 ? atol(argv[3]) : 200000;
    int size = argc > 4 ? atoi(argv[4]) : 1024;
    int window = argc > 5 ? atoi(argv[5]) : 256;
    char *body = malloc((size_t)size);
    memset(body, 'x', (size_t)size);
    bc_t c;
    if (bc_connect(&c, mport) != 0) {
        fprintf(stderr, "cannot connect to %d\n", mport);
        return 1;
    }
    long sent = 0, done = 0, codes[32] = {0};
    int64_t max_lag = 0, t0 = tu_now_ms(), next_sample = t0;
    while (done < n) {
        while (sent < n && sent - done < window) {
            char q[16];
            snprintf(q, sizeof(q), "%ld", sent % 8);
            const char *ext[] = {"a", "PG", "b", "BenchRepl", "c", "TBW102", "d", "8", "e", q,
                                 "f", "0", "g", "1700000000000", "h", "0", "i", "", "j", "0",
                                 "k", "false", NULL};
            if (bc_send(&c, SEND_MESSAGE_V2, 0, ext, body, (size_t)size) < 0) return 1;
            sent++;
        }
        rm_cmd_t r;
        if (bc_read(&c, &r, 30000) != 0) {
            fprintf(stderr, "no reply after %ld\n", done);
            return 1;
        }
        if (!rm_is_response(&r)) continue;
        codes[r.code >= 0 && r.code < 32 ? r.code : 31]++;
        done++;
        if (tu_now_ms() >= next_sample) {
            next_sample += 100;
            int64_t m = cl_max(mport), s = cl_max(sport);
            if (m >= 0 && s >= 0 && m - s > max_lag) max_lag = m - s;
        }
    }
    int64_t t1 = tu_now_ms();
    int64_t m = cl_max(mport), s;
    while ((s = cl_max(sport)) >= 0 && s < m && tu_now_ms() - t1 < 60000) tu_sleep_ms(1);
    int64_t t2 = tu_now_ms();
    double secs = (double)(t1 - t0) / 1000.0;
    printf("sent %ld x %d B in %.2f s: %.0f msg/s, %.1f MB/s (window %d)\n", n, size, secs,
           (double)n / secs, (double)n * size / secs / 1e6, window);
    printf("reply codes:");
    for (int i = 0; i < 32; i++)
        if (codes[i]) printf(" %d=%ld", i, codes[i]);
    printf("\nmax lag sampled: %" PRId64 " bytes; slave at master's end %" PRId64
           " ms after the last reply (master %" PRId64 ", slave %" PRId64 ")\n",
           max_lag, t2 - t1, m, s);
    bc_close(&c);
    free(body);
    return 0;
}
