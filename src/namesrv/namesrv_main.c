/* Placeholder until the NameServer lands. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "namesrv/namesrv.h"

int namesrv_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "petrel namesrv: not built yet\n");
    return 2;
}
