/*
 * cli: the `petrel` binary's subcommands that are not servers: dev (a
 * NameServer and a broker in one process), admin and bench.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CLI_H
#define PETREL_CLI_H

int dev_main(int argc, char **argv);
int admin_main(int argc, char **argv);
int bench_main(int argc, char **argv);

#endif
