/* placeholder, replaced below */
#include "store/store.h"
#include <stdio.h>
int store_bench_main(int argc, char **argv) { (void)argc; (void)argv; fprintf(stderr, "not yet\n"); return 1; }
