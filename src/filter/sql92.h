/*
 * sql92: RocketMQ's SQL92 message selector (expressionType "SQL92").
 *
 * sql92_compile() turns a subscription string into an immutable compiled
 * form (a flat node array plus the list of property names it reads);
 * sql92_match() evaluates it against a message's stored properties string
 * (name 0x01 value 0x02 ...) without allocating or copying. The compiled
 * form can be shared by any number of threads.
 *
 * Semantics follow RocketMQ's filter module (SelectorParser.jj and the
 * expression classes, 4.9 and 5.x); docs/filter.md lists them and the few
 * deliberate differences. A message matches only when the expression
 * evaluates to TRUE: NULL (missing property), type errors and conversion
 * errors all mean "no match".
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_FILTER_SQL92_H
#define PETREL_FILTER_SQL92_H

#include <stddef.h>

typedef struct sql92_expr_s sql92_expr_t;

/* Bounds that keep compile and evaluation stack use small. */
#define SQL92_MAX_EXPR_LEN (1u << 20) /* bytes of expression text */
#define SQL92_MAX_DEPTH 256           /* nesting of the compiled tree */

/*
 * Compiles expr (NUL-terminated). Returns 0 and *out (free with sql92_free),
 * or -1 with *out = NULL and a message in err such as
 * "SQL92 syntax error at column 7: expected a value after '>'".
 * err may be NULL. Suitable for SUBSCRIPTION_PARSE_FAILED remarks.
 */
int sql92_compile(const char *expr, sql92_expr_t **out, char *err, size_t errlen);
/* Same for a counted string (a NUL byte outside string constants is a syntax error). */
int sql92_compile_n(const char *expr, size_t len, sql92_expr_t **out, char *err, size_t errlen);

/*
 * SQL92_LENIENT: accept what RocketMQ's parser accepts: text after the first
 * complete condition is ignored when its first token is valid ("a = 1 b = 2"
 * means "a = 1"), "007" reads as "0" followed by ignored text, and "--"
 * without a following newline is two minus signs. On success with ignored
 * text, err receives "SQL92 warning: text from column N on ignored" (else "").
 * Default (0): trailing text and "007" are syntax errors, "--" always starts
 * a comment (to the end of the line or of the text).
 */
#define SQL92_LENIENT 1u
int sql92_compile_ex(const char *expr, size_t len, unsigned flags, sql92_expr_t **out, char *err,
                     size_t errlen);
void sql92_free(sql92_expr_t *e);

/*
 * 1 if the message whose properties string is props[0..props_len) matches,
 * else 0. props may be NULL when props_len is 0. Thread-safe, no allocation.
 */
int sql92_match(const sql92_expr_t *e, const char *props, size_t props_len);

/*
 * As sql92_match, but when tags is not NULL it is used as the value of the
 * TAGS property instead of looking it up in props.
 */
int sql92_match_tags(const sql92_expr_t *e, const char *props, size_t props_len, const char *tags,
                     size_t tags_len);

/* The expression text as compiled (NUL-terminated, owned by e). */
const char *sql92_text(const sql92_expr_t *e);
/* Distinct property names the expression reads (e.g. for logging or bloom filters). */
size_t sql92_prop_count(const sql92_expr_t *e);
const char *sql92_prop_name(const sql92_expr_t *e, size_t i);

#endif
