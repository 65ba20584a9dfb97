/* Placeholder until the broker lands. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "broker/broker.h"

int broker_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "petrel broker: not built yet\n");
    return 2;
}
