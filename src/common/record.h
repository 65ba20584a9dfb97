/*
 * record: RocketMQ's stored-message record (MessageExt) as pure functions:
 * encode into a caller buffer, decode/validate into a view whose pointers
 * point into the buffer, body CRC, offset message ids, and the members of a
 * SEND_BATCH_MESSAGE body. No store dependency: libpetrel reuses it.
 *
 * Layout (big-endian, IPv4 hosts, V1 magic), storage-and-semantics.md §1.1:
 *   0 TOTALSIZE 4 | 4 MAGIC 4 | 8 BODYCRC 4 | 12 QUEUEID 4 | 16 FLAG 4 |
 *   20 QUEUEOFFSET 8 | 28 PHYSICALOFFSET 8 | 36 SYSFLAG 4 | 40 BORNTIMESTAMP 8 |
 *   48 BORNHOST 8 (ip4+port32; 20 with sysFlag 0x10) | STORETIMESTAMP 8 |
 *   STOREHOST 8 (20 with 0x20) | RECONSUMETIMES 4 | PREPAREDTXOFFSET 8 |
 *   BODYLEN 4 | BODY | TOPICLEN 1 (V2: 2) | TOPIC | PROPSLEN 2 | PROPS
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_RECORD_H
#define PETREL_RECORD_H

#include <stddef.h>
#include <stdint.h>

#define RECORD_MAGIC_V1 0xdaa320a7u
#define RECORD_MAGIC_V2 0xdaa320abu
#define RECORD_MAGIC_BLANK 0xcbd43194u
#define RECORD_BLANK_LEN 8 /* bytes actually written for an end-of-file record */

/* Fixed part of a V1 record with IPv4 hosts: TOTALSIZE = RECORD_FIXED_V4 + body + topic + props. */
#define RECORD_FIXED_V4 91
#define RECORD_MAX_TOPIC_V1 127
#define RECORD_MAX_PROPS 32767

/* Byte positions that hold for every record (Java MessageDecoder constants). */
#define RECORD_POS_MAGIC 4
#define RECORD_POS_BODYCRC 8
#define RECORD_POS_QUEUEID 12
#define RECORD_POS_FLAG 16
#define RECORD_POS_QUEUEOFFSET 20
#define RECORD_POS_PHYSOFFSET 28
#define RECORD_POS_SYSFLAG 36
#define RECORD_POS_BORNTS 40
#define RECORD_POS_BORNHOST 48
#define RECORD_POS_STORETS_V4 56 /* only when BORNHOST is IPv4 */

/* Message sysFlag bits (remoting-protocol.md §7.3). */
#define MSG_SYSFLAG_COMPRESSED 0x1
#define MSG_SYSFLAG_MULTI_TAGS 0x2
#define MSG_SYSFLAG_TRANSACTION_MASK 0xc
#define MSG_SYSFLAG_TRANSACTION_NOT_TYPE 0x0
#define MSG_SYSFLAG_TRANSACTION_PREPARED 0x4
#define MSG_SYSFLAG_TRANSACTION_COMMIT 0x8
#define MSG_SYSFLAG_TRANSACTION_ROLLBACK 0xc
#define MSG_SYSFLAG_BORNHOST_V6 0x10
#define MSG_SYSFLAG_STOREHOST_V6 0x20

/* PREPARED and ROLLBACK records take queue offset 0 and never enter a consume queue (§1.9). */
static inline int record_tx_dispatched(int32_t sys_flag) {
    int t = sys_flag & MSG_SYSFLAG_TRANSACTION_MASK;
    return t == MSG_SYSFLAG_TRANSACTION_NOT_TYPE || t == MSG_SYSFLAG_TRANSACTION_COMMIT;
}

/* Input of record_encode: every field of a V1 record with IPv4 hosts. */
typedef struct record_fields_s {
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t phys_offset;
    int32_t sys_flag; /* the V6 bits are cleared: encode writes IPv4 hosts */
    int64_t born_ts;
    uint32_t born_ip; /* IPv4, host order (10.0.0.5 = 0x0a000005) */
    int32_t born_port;
    int64_t store_ts;
    uint32_t store_ip; /* host order */
    int32_t store_port;
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const void *body;
    uint32_t body_len;
    uint32_t body_crc; /* record_body_crc(body, body_len), computed by the caller */
    const char *topic;
    uint32_t topic_len; /* 1..127 */
    const char *props;
    uint32_t props_len; /* 0..32767 */
} record_fields_t;

/* Size of the encoded record (V1, IPv4 hosts). */
static inline uint32_t record_size(uint32_t body_len, uint32_t topic_len, uint32_t props_len) {
    return RECORD_FIXED_V4 + body_len + topic_len + props_len;
}

/* CRC32 (zlib, = java.util.zip.CRC32) of the body, & 0x7fffffff. 0 for an empty body. */
uint32_t record_body_crc(const void *body, size_t len);

/*
 * Encodes f into dst (cap bytes). Returns the record size, or 0 when it does
 * not fit or a length is out of range (topic 1..127, props <= 32767).
 * TOTALSIZE is stored last, so a record torn by a crash while being copied
 * into a mapped file reads as TOTALSIZE 0 (invalid) when the space was zero.
 */
uint32_t record_encode(const record_fields_t *f, uint8_t *dst, size_t cap);

/* Writes the 8-byte end-of-file record declaring `remaining` bytes. dst needs 8 bytes. */
void record_encode_blank(uint8_t *dst, uint32_t remaining);

typedef enum {
    RECORD_OK = 0,
    RECORD_BLANK = 1,     /* end-of-file magic: continue at the next file */
    RECORD_CORRUPT = 2,   /* bad magic, lengths that disagree, CRC mismatch */
    RECORD_TRUNCATED = 3, /* fewer bytes than TOTALSIZE (or < 4): torn tail */
} record_status_t;

/* A decoded record: every pointer points into the decoded buffer. */
typedef struct record_view_s {
    const uint8_t *base; /* start of the record */
    uint32_t total_size;
    uint32_t magic;
    uint32_t body_crc;
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t phys_offset;
    int32_t sys_flag;
    int64_t born_ts;
    const uint8_t *born_host; /* ip (4 or 16 bytes) then port (int32 BE) */
    uint32_t born_host_len;   /* 8 or 20 */
    int64_t store_ts;
    const uint8_t *store_host;
    uint32_t store_host_len;
    int32_t reconsume_times;
    int64_t prepared_tx_offset;
    const uint8_t *body;
    uint32_t body_len;
    const char *topic;
    uint32_t topic_len;
    const char *props;
    uint32_t props_len;
} record_view_t;

#define RECORD_CHECK_CRC 0x1 /* verify BODYCRC (recovery) */

/*
 * Decodes the record at p (len bytes available). On RECORD_BLANK, v->total_size
 * is the declared remainder and only base/total_size/magic are set. Accepts V1
 * and V2 magic and IPv4/IPv6 hosts.
 */
record_status_t record_decode(const uint8_t *p, size_t len, record_view_t *v, int flags);

/* Port of a host field (8 or 20 bytes). */
static inline int32_t record_host_port(const uint8_t *h, uint32_t hlen) {
    const uint8_t *b = h + hlen - 4;
    return (int32_t)(((uint32_t)b[0] << 24) | ((uint32_t)b[1] << 16) | ((uint32_t)b[2] << 8) |
                     b[3]);
}

/*
 * Offset message id: uppercase hex of storeHost ip | port (int32) | phys offset
 * (int64) — 32 chars for IPv4, 56 for IPv6 (§2.1).
 */
#define RECORD_MSGID_V4_LEN 32
#define RECORD_MSGID_MAX_LEN 56
/* Writes 32 chars + NUL into out (33 bytes). */
/* Writes v as 16 uppercase hex digits (no NUL), most significant first. */
void record_hex64(char *out, uint64_t v);
void record_msgid_encode(uint32_t store_ip, int32_t store_port, int64_t phys_offset, char *out);
/* From a host field (8 or 20 bytes): writes 32 or 56 chars + NUL; returns the length. */
size_t record_msgid_encode_host(const uint8_t *host, uint32_t host_len, int64_t phys_offset,
                                char *out);
/*
 * Parses an offset message id (either case). host gets ip+port (8 or 20 bytes),
 * *host_len its length. Returns 0, or -1 when it is not a valid id.
 */
int record_msgid_decode(const char *s, size_t len, uint8_t host[20], uint32_t *host_len,
                        int64_t *phys_offset);

/*
 * SEND_BATCH_MESSAGE body members (remoting-protocol.md §7.5):
 * [TOTALSIZE 4][MAGIC 4 (0)][BODYCRC 4 (0)][FLAG 4][BODYLEN 4][BODY][PROPSLEN 2][PROPS],
 * TOTALSIZE = 22 + body + props.
 */
typedef struct record_batch_member_s {
    int32_t flag;
    const uint8_t *body;
    uint32_t body_len;
    const char *props;
    uint32_t props_len;
} record_batch_member_t;

/*
 * Reads the member at *pos of a batch body and advances *pos.
 * Returns 1 (a member), 0 (end of body), -1 (malformed: sizes disagree).
 */
int record_batch_next(const uint8_t *p, size_t len, size_t *pos, record_batch_member_t *m);
/* Appends one batch member to out (for the client). Returns bytes written or 0 if it does not fit.
 */
size_t record_batch_encode(const record_batch_member_t *m, uint8_t *out, size_t cap);

#endif
