/*
 * admin_cmds: the table of `petrel admin` subcommands (admin_cmds.c).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CLI_ADMIN_CMDS_H
#define PETREL_CLI_ADMIN_CMDS_H

#include "cli/admin.h"

typedef struct adm_cmd_s {
    const char *name;     /* mqadmin's name */
    adm_fn fn;
    const char *flags;    /* single-letter options taking a value */
    const char *required; /* of which these are required */
    const char *synopsis;
    const char *summary;
    const char *options;  /* help text, one line per option */
} adm_cmd_t;

extern const adm_cmd_t adm_cmds[];

#endif
