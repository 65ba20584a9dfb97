/* Placeholder so the library is never empty. */
typedef int petrel_placeholder_t;
