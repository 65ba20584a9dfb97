/*
 * msgprops: the message properties string `name\x01value\x02...`
 * (remoting-protocol.md §7.1): find without allocating, iterate, build into a
 * buf_t, remove; the property key constants of §7.2; the consume-queue
 * tagsCode (Java String.hashCode of TAGS over UTF-16 units).
 *
 * Parsing is tolerant as Java's: items are split on 0x02, empty items are
 * skipped, an item is split at its first 0x01, and items without a separator
 * or with an empty name or value are ignored.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef PETREL_MSGPROPS_H
#define PETREL_MSGPROPS_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define MSGPROP_NAME_SEP '\x01'
#define MSGPROP_SEP '\x02'

#define MSGPROP_KEYS "KEYS"
#define MSGPROP_TAGS "TAGS"
#define MSGPROP_WAIT "WAIT"
#define MSGPROP_DELAY "DELAY"
#define MSGPROP_RETRY_TOPIC "RETRY_TOPIC"
#define MSGPROP_REAL_TOPIC "REAL_TOPIC"
#define MSGPROP_REAL_QID "REAL_QID"
#define MSGPROP_TRAN_MSG "TRAN_MSG"
#define MSGPROP_PGROUP "PGROUP"
#define MSGPROP_MIN_OFFSET "MIN_OFFSET"
#define MSGPROP_MAX_OFFSET "MAX_OFFSET"
#define MSGPROP_BUYER_ID "BUYER_ID"
#define MSGPROP_ORIGIN_MESSAGE_ID "ORIGIN_MESSAGE_ID"
#define MSGPROP_TRANSFER_FLAG "TRANSFER_FLAG"
#define MSGPROP_CORRECTION_FLAG "CORRECTION_FLAG"
#define MSGPROP_MQ2_FLAG "MQ2_FLAG"
#define MSGPROP_RECONSUME_TIME "RECONSUME_TIME"
#define MSGPROP_MSG_REGION "MSG_REGION"
#define MSGPROP_TRACE_SWITCH "TRACE_ON"
#define MSGPROP_UNIQ_KEY "UNIQ_KEY"
#define MSGPROP_EXTEND_UNIQ_INFO "EXTEND_UNIQ_INFO"
#define MSGPROP_MAX_RECONSUME_TIMES "MAX_RECONSUME_TIMES"
#define MSGPROP_CONSUME_START_TIME "CONSUME_START_TIME"
#define MSGPROP_SHARDING_KEY "__SHARDINGKEY"
#define MSGPROP_CLUSTER "CLUSTER"
#define MSGPROP_INNER_NUM "INNER_NUM"
#define MSGPROP_INNER_BASE "INNER_BASE"
#define MSGPROP_TRAN_PREPARED_QUEUE_OFFSET "TRAN_PREPARED_QUEUE_OFFSET"
#define MSGPROP_TRANSACTION_ID "__transactionId__"
#define MSGPROP_TRANSACTION_CHECK_TIMES "TRANSACTION_CHECK_TIMES"
#define MSGPROP_CHECK_IMMUNITY_TIME "CHECK_IMMUNITY_TIME_IN_SECONDS"
#define MSGPROP_CORRELATION_ID "CORRELATION_ID"
#define MSGPROP_REPLY_TO_CLIENT "REPLY_TO_CLIENT"
#define MSGPROP_TTL "TTL"
#define MSGPROP_ARRIVE_TIME "ARRIVE_TIME"
#define MSGPROP_PUSH_REPLY_TIME "PUSH_REPLY_TIME"
#define MSGPROP_MSG_TYPE "MSG_TYPE"
#define MSGPROP_INSTANCE_ID "INSTANCE_ID"
#define MSGPROP_TIMER_DELIVER_MS "TIMER_DELIVER_MS"
#define MSGPROP_TIMER_DELAY_SEC "TIMER_DELAY_SEC"
#define MSGPROP_TIMER_DELAY_MS "TIMER_DELAY_MS"
#define MSGPROP_DLQ_ORIGIN_TOPIC "DLQ_ORIGIN_TOPIC"
#define MSGPROP_DLQ_ORIGIN_MESSAGE_ID "DLQ_ORIGIN_MESSAGE_ID"
#define MSGPROP_CRC32 "__CRC32#"

/*
 * Finds key. Returns 1 with val and vlen pointing into props, or 0. The first
 * occurrence wins (Java keeps the last in its map; writers never duplicate).
 */
int msgprops_find(const char *props, size_t len, const char *key, const char **val, size_t *vlen);
/* Same with a key length. */
int msgprops_find_n(const char *props, size_t len, const char *key, size_t klen, const char **val,
                    size_t *vlen);

/*
 * A 64-bit summary of the keys present: one bit per key, (first + 2 * last byte + length) & 63.
 * A clear bit proves the key absent, so hot paths skip lookups of keys most messages lack
 * (the common keys do not share a bit with POP_CK, TRAN_MSG, DELAY or the TIMER_ keys).
 */
uint64_t msgprops_sig(const char *props, size_t len);
static inline uint64_t msgprops_sig_bit(const char *key, size_t klen) {
    return klen ? 1ull << (((unsigned char)key[0] + 2u * (unsigned char)key[klen - 1] + klen) & 63)
                : 0;
}
#define MSGPROPS_MAY_HAVE(sig, key) (((sig) & msgprops_sig_bit(key, sizeof(key) - 1)) != 0)

/* Two lookups in one pass (as two msgprops_find_n calls). Returns bit 0 if k1 was found, bit 1
 * if k2 was. */
int msgprops_find2(const char *props, size_t len, const char *k1, size_t l1, const char **v1,
                   size_t *vl1, const char *k2, size_t l2, const char **v2, size_t *vl2);

typedef struct msgprops_iter_s {
    const char *p;
    size_t len;
    size_t pos;
} msgprops_iter_t;

static inline void msgprops_iter_init(msgprops_iter_t *it, const char *props, size_t len) {
    it->p = props;
    it->len = len;
    it->pos = 0;
}
/* Next valid pair (pointers into props). Returns 1, or 0 at the end. */
int msgprops_next(msgprops_iter_t *it, const char **key, size_t *klen, const char **val,
                  size_t *vlen);

/* Appends `key\x01val\x02` to b. */
void msgprops_append(buf_t *b, const char *key, const char *val);
void msgprops_append_n(buf_t *b, const char *key, size_t klen, const char *val, size_t vlen);
/* Appends every pair of props except `key` (normalised: one 0x02 after each pair). */
void msgprops_copy_without(buf_t *b, const char *props, size_t len, const char *key);
/*
 * Removes every occurrence of key from props in place (keeps the others as
 * they are). Returns the new length.
 */
size_t msgprops_remove(char *props, size_t len, const char *key);

/*
 * Consume-queue tagsCode of an ordinary message: hashCode(TAGS) sign-extended
 * to int64, 0 when there is no TAGS property (storage-and-semantics.md §3.5).
 */
int64_t msgprops_tags_code(const char *props, size_t len);

#endif
