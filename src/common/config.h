/*
 * config: RocketMQ-style properties files and one declarative table per
 * component. The same table drives file parsing, command-line overrides
 * (`--key=value`), `getBrokerConfig`/`updateBrokerConfig` and `--help-config`.
 *
 * A properties file is Java's format reduced to what broker.conf uses:
 * `key=value` or `key: value` lines, `#` and `!` comments, surrounding
 * whitespace trimmed.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_CONFIG_H
#define PETREL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CFG_STR, CFG_INT, CFG_LONG, CFG_BOOL, CFG_ENUM } cfg_type_t;

typedef struct cfg_def_s {
    const char *key;          /* RocketMQ's key name, exactly */
    cfg_type_t type;
    size_t offset;            /* offset of the field in the config struct */
    const char *defval;       /* default, as text */
    int64_t min, max;         /* bounds for CFG_INT / CFG_LONG (min > max: unbounded) */
    const char *const *enums; /* NULL-terminated names for CFG_ENUM (stored as int index) */
    int runtime;              /* may be changed while running (updateBrokerConfig) */
    const char *desc;         /* one line for --help-config */
} cfg_def_t;

/* Sets every field to its default. CFG_STR fields own a malloc'd string. */
void cfg_defaults(const cfg_def_t *defs, void *conf);
/* Frees CFG_STR fields. */
void cfg_free(const cfg_def_t *defs, void *conf);
/*
 * Sets one key. Returns 0; 1 when the key is unknown (callers warn and go on);
 * -1 when the value is bad, with a message in err.
 */
int cfg_set(const cfg_def_t *defs, void *conf, const char *key, const char *value, char *err,
            size_t errlen);
/* Formats one value as text into out. Returns 0 or -1 when the key is unknown. */
int cfg_get(const cfg_def_t *defs, const void *conf, const char *key, char *out, size_t outlen);
/* Finds a definition by key, or NULL. */
const cfg_def_t *cfg_find(const cfg_def_t *defs, const char *key);

/*
 * Loads a properties file into conf. Unknown keys are logged as warnings; bad
 * values are errors. Returns 0, or -1 with a message in err.
 */
int cfg_load_file(const cfg_def_t *defs, void *conf, const char *path, char *err, size_t errlen);

/*
 * Applies `--key=value` / `-k value` style overrides from argv for every key
 * in the table (e.g. `--listenPort=10911`). Unknown `--x=y` options are errors
 * so typos do not pass silently. `skip` lists options the caller handles
 * itself (each like "-c"), which take one argument. Returns 0 or -1.
 */
int cfg_apply_args(const cfg_def_t *defs, void *conf, int argc, char **argv, char *err,
                   size_t errlen);

/* Prints every key, default and description (for --help-config). */
void cfg_print_help(const cfg_def_t *defs, const char *title);

/* Callback parser for properties text: calls fn(key, value, arg) per entry. */
int props_parse(const char *text, int (*fn)(const char *key, const char *val, void *arg),
                void *arg);

#define CFG_FIELD(type, field) offsetof(type, field)

#endif
