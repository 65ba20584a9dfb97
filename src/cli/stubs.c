/* Placeholders until admin and bench land (tools helper replaces this file). SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli/cli.h"

int admin_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel admin: not built yet\n"); return 2; }
int bench_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel bench: not built yet\n"); return 2; }
