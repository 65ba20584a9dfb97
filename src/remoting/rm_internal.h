/*
 * rm_internal: declarations shared by the files of src/remoting only.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_RM_INTERNAL_H
#define PETREL_RM_INTERNAL_H

#include "remoting/remoting.h"

/*
 * Header decoders. `out` has room for at least 2*hlen+64 bytes (strings are
 * unescaped and NUL-terminated there). cmd->code/opaque/flag/serialize and
 * the rest are set; on failure err gets the reason and the status says
 * whether code and opaque are known (RM_EHEADER_REPLY) or not (RM_EHEADER).
 */
rm_status_t rm__decode_json(const uint8_t *h, uint32_t hlen, char *out, rm_cmd_t *cmd, char *err,
                            size_t errlen);
rm_status_t rm__decode_binary(const uint8_t *h, uint32_t hlen, char *out, rm_cmd_t *cmd,
                              char *err, size_t errlen);

/* Connection hooks used by the encoder (server.c). */
void rm__conn_body_ref(rm_conn_t *conn, const void *p, size_t n, void (*release)(void *),
                       void *arg);
void rm__conn_frame_done(rm_conn_t *conn);
/* Makes e an encoder that drops everything (oneway replies, closed connections). */
void rm__enc_discard(rm_enc_t *e);

/* Formats v in decimal into dst (>= 21 bytes); returns the length. */
size_t rm__i64toa(int64_t v, char *dst);

#endif
