/* Placeholders until dev, admin and bench land. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli/cli.h"

int dev_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel dev: not built yet\n"); return 2; }
int admin_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel admin: not built yet\n"); return 2; }
int bench_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel bench: not built yet\n"); return 2; }
