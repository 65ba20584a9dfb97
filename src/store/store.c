/*
 * store: stub bodies (the implementation lands next); see store.h.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const cfg_def_t store_cfg_defs[] = {{NULL}};
void store_config_init(store_config_t *c) { memset(c, 0, sizeof(*c)); }
void store_config_free(store_config_t *c) { (void)c; }
int store_open(const store_config_t *c, store_t **out, char *err, size_t errlen) {
    snprintf(err, errlen, "store not implemented yet");
    *out = NULL;
    return -1;
}
void store_close(store_t *s) {}
const char *store_put_status_name(int status) { return "UNKNOWN_ERROR"; }
int store_put(store_t *s, const store_msg_t *m, store_put_result_t *res) { return res->status = STORE_UNKNOWN_ERROR; }
int store_put_batch(store_t *s, const store_msg_t *m, size_t n, store_put_result_t *res) { return STORE_UNKNOWN_ERROR; }
void store_wait_flush(store_t *s, int64_t upto, store_flush_cb cb, void *arg) { cb(arg, STORE_FLUSH_DISK_TIMEOUT); }
int store_wait_flush_sync(store_t *s, int64_t upto) { return STORE_FLUSH_DISK_TIMEOUT; }
const char *store_get_status_name(int status) { return "NO_MATCHED_LOGIC_QUEUE"; }
int store_get(store_t *s, const char *topic, int32_t queue_id, int64_t offset, int32_t max_msgs,
              int32_t max_bytes, const store_filter_t *filter, void *filter_arg, store_get_result_t *res) {
    memset(res, 0, sizeof(*res));
    return res->status = STORE_GET_NO_MATCHED_LOGIC_QUEUE;
}
void store_get_release(store_get_result_t *res) {}
int store_read_at(store_t *s, int64_t phys, store_pinned_t *out) { return -1; }
void store_pinned_release(store_pinned_t *p) {}
int64_t store_max_offset(store_t *s, const char *t, int32_t q) { return 0; }
int64_t store_min_offset(store_t *s, const char *t, int32_t q) { return 0; }
int64_t store_offset_by_time(store_t *s, const char *t, int32_t q, int64_t ts) { return 0; }
int64_t store_earliest_msg_time(store_t *s, const char *t, int32_t q) { return -1; }
int64_t store_msg_store_time(store_t *s, const char *t, int32_t q, int64_t o) { return -1; }
int store_cq_entry(store_t *s, const char *t, int32_t q, int64_t o, int64_t *p, int32_t *z, int64_t *g) { return -1; }
int store_query_by_key(store_t *s, const char *topic, const char *key, int max_num, int64_t b, int64_t e,
                       int64_t *out, int64_t *lt, int64_t *lp) { return 0; }
int store_delete_topic(store_t *s, const char *topic) { return 0; }
void store_set_arrival_cb(store_t *s, void (*fn)(void *, const store_arrival_t *), void *arg) {}
int64_t store_commitlog_min_offset(store_t *s) { return 0; }
int64_t store_commitlog_max_offset(store_t *s) { return 0; }
int64_t store_confirm_offset(store_t *s) { return 0; }
int64_t store_flushed_offset(store_t *s) { return 0; }
int64_t store_dispatched_offset(store_t *s) { return 0; }
int store_disk_usage_percent(store_t *s) { return 0; }
int store_is_writeable(store_t *s) { return 0; }
void store_get_stats(store_t *s, store_stats_t *st) { memset(st, 0, sizeof(*st)); }
int store_clean_now(store_t *s, int force) { return 0; }
void store_flush_all(store_t *s) {}
int store_read_raw(store_t *s, int64_t phys, uint32_t max_len, store_pinned_t *out) { return -1; }
int store_append_raw(store_t *s, int64_t phys, const uint8_t *data, size_t len) { return -1; }
int store_truncate(store_t *s, int64_t phys) { return -1; }
int store_bench_main(int argc, char **argv) { fprintf(stderr, "not yet\n"); return 1; }
