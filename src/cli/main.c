/*
 * main: the one `petrel` binary. Each subcommand is a module's entry point;
 * this file only dispatches.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "cli/cli.h"
#include "console/console.h"
#include "ha/ha.h"
#include "namesrv/namesrv.h"

#ifndef PETREL_VERSION
#define PETREL_VERSION "0.1.0"
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"namesrv", namesrv_main, "run a NameServer (default port 9876)"},
    {"broker", broker_main, "run a broker (default port 10911)"},
    {"controller", controller_main, "failover controller for master/slave groups (Raft)"},
    {"dev", dev_main, "run a NameServer and a broker together, data under ./data"},
    {"admin", admin_main, "mqadmin-compatible administration commands"},
    {"console", console_main, "web console for a RocketMQ-compatible cluster (default port 8080)"},
    {"bench", bench_main, "load generator (produce, consume, end-to-end, store)"},
};

static void usage(FILE *f) {
    fprintf(f, "petrel %s - a RocketMQ-compatible message broker\n\n"
               "usage: petrel <command> [options]   (petrel <command> --help)\n\n",
            PETREL_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("petrel %s\n", PETREL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "petrel: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
