/* Placeholder until dev lands (lead). SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "cli/cli.h"

int dev_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "petrel dev: not built yet\n"); return 2; }
