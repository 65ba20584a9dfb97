/*
 * broker: the broker's life cycle: `petrel broker` command line, start on a
 * loop thread of its own (also used by `petrel dev`), the request routing
 * table, periodic tasks, and the orderly shutdown (unregister, flush
 * offsets, close the store).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker_int.h"
#include "common/util.h"
#include "store/store.h"

/* ---- loop callbacks ---- */

static void on_arrival_async(uv_async_t *a) { pull_on_arrivals(a->data); }
static void on_done_async(uv_async_t *a) { send_drain_done(a->data); }
static void on_kick_check(uv_check_t *h) { store_kick(((broker_t *)h->data)->store); }

static void on_register_timer(uv_timer_t *t) { register_all(t->data); }
static void on_offsets_timer(uv_timer_t *t) { offsets_persist(t->data, 0); }
static void on_scan_timer(uv_timer_t *t) { clients_scan_expired(t->data); }
static void on_hold_timer(uv_timer_t *t) { pull_check_holds(t->data, 0); }
static void on_stats_timer(uv_timer_t *t) { stats_tick(t->data); }
/* One-shot: re-armed for the next due delayed message (at most 100 ms away). A slave
 * runs neither this nor the transaction check: the master's results replicate to it. */
static void on_schedule_timer(uv_timer_t *t) {
    broker_t *b = t->data;
    int64_t next = b->conf.brokerRole != 2 ? schedule_tick(b) : now_ms() + 100;
    int64_t wait = next - now_ms();
    if (wait < 1) wait = 1;
    if (wait > 100) wait = 100;
    if (!b->stopping) uv_timer_start(t, on_schedule_timer, (uint64_t)wait, 0);
}
static void on_txn_timer(uv_timer_t *t) {
    if (((broker_t *)t->data)->conf.brokerRole != 2) txn_check_tick(t->data);
}
static void on_delay_persist_timer(uv_timer_t *t) { schedule_persist(t->data, 0); }

static void on_handle_closed(uv_handle_t *h) { (void)h; }

static void on_server_closed(rm_server_t *srv, void *arg) {
    broker_t *b = arg;
    b->srv = NULL;
    /* Replies deferred on fsync: the store completes them at close; drop here. */
    send_drain_done(b);
    pthread_mutex_lock(&b->arr_mu);
    pthread_mutex_lock(&b->done_mu);
    atomic_store(&b->loop_done, 1); /* threads stop waking the loop before the asyncs close */
    pthread_mutex_unlock(&b->done_mu);
    pthread_mutex_unlock(&b->arr_mu);
    uv_close((uv_handle_t *)&b->arrival_async, on_handle_closed);
    uv_close((uv_handle_t *)&b->done_async, on_handle_closed);
    uv_close((uv_handle_t *)&b->kick_check, on_handle_closed);
}

static void on_stop_async(uv_async_t *a) {
    broker_t *b = a->data;
    if (b->stopping) return;
    b->stopping = 1;
    log_info("broker %s shutting down", b->conf.brokerName);
    uv_timer_t *ts[] = {&b->t_register, &b->t_offsets, &b->t_scan, &b->t_hold, &b->t_stats,
                        &b->t_schedule, &b->t_delay_persist, &b->t_txn};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        uv_timer_stop(ts[i]);
        uv_close((uv_handle_t *)ts[i], on_handle_closed);
    }
    pull_check_holds(b, 1);
    bm_close_handles(b);
    ha_glue_loop_close(b);
    uv_close((uv_handle_t *)&b->stop_async, on_handle_closed);
    if (b->srv)
        rm_server_close(b->srv, on_server_closed, b);
    else
        on_server_closed(NULL, b);
}

/* ---- routing ---- */

static void route(broker_t *b) {
    static const bk_route_t routes[] = {
        {SEND_MESSAGE, h_send_message},
        {SEND_MESSAGE_V2, h_send_message},
        {SEND_BATCH_MESSAGE, h_send_message},
        {SEND_REPLY_MESSAGE, h_send_reply_message},
        {SEND_REPLY_MESSAGE_V2, h_send_reply_message},
        {PULL_MESSAGE, h_pull_message},
        {361 /* LITE_PULL_MESSAGE */, h_pull_message},
        {QUERY_CONSUMER_OFFSET, h_query_consumer_offset},
        {UPDATE_CONSUMER_OFFSET, h_update_consumer_offset},
        {GET_MAX_OFFSET, h_get_max_offset},
        {GET_MIN_OFFSET, h_get_min_offset},
        {SEARCH_OFFSET_BY_TIMESTAMP, h_search_offset_by_timestamp},
        {GET_EARLIEST_MSG_STORETIME, h_get_earliest_msg_storetime},
        {QUERY_MESSAGE, h_query_message},
        {VIEW_MESSAGE_BY_ID, h_view_message_by_id},
        {HEART_BEAT, h_heart_beat},
        {UNREGISTER_CLIENT, h_unregister_client},
        {GET_CONSUMER_LIST_BY_GROUP, h_get_consumer_list_by_group},
        {GET_CONSUMER_CONNECTION_LIST, h_get_consumer_connection_list},
        {GET_PRODUCER_CONNECTION_LIST, h_get_producer_connection_list},
        {CHECK_CLIENT_CONFIG, h_check_client_config},
        {CONSUMER_SEND_MSG_BACK, h_consumer_send_msg_back},
        {LOCK_BATCH_MQ, h_lock_batch_mq},
        {END_TRANSACTION, h_end_transaction},
        {UNLOCK_BATCH_MQ, h_unlock_batch_mq},
    };
    bk_route(b, routes, sizeof(routes) / sizeof(routes[0]));
    admin_register_handlers(b);
    rm_server_on_close(b->srv, clients_on_close, b);
}

/* ---- start / stop ---- */

static void free_all(broker_t *b) {
    bm_free(b);
    pull_free(b);
    locks_free(b);
    txn_free(b);
    sql_cache_free(b);
    timer_free(b);
    buf_free(&b->props_buf);
    free(b->batch_ms);
    free(b->batch_rs);
    free(b->batch_poff);
    clients_free(b);
    offsets_free(b);
    groups_free(b);
    topics_free(b);
    register_free(b);
    ha_glue_free(b); /* after the NameServer client: its replies reach ha_glue */
    pthread_mutex_destroy(&b->done_mu);
    broker_config_free(&b->conf);
    free(b);
}

static int setup(broker_t *b, char *err, size_t errlen) {
    broker_config_t *c = &b->conf;
    struct in_addr a;
    inet_pton(AF_INET, c->brokerIP1, &a);
    memcpy(b->store_ip, &a.s_addr, 4);
    b->n_delay_levels = broker_parse_delay_levels(c->messageDelayLevel, b->delay_levels, 32);
    snprintf(b->config_dir, sizeof(b->config_dir), "%s/config", c->storePathRootDir);
    int rc = mkdir_p(b->config_dir, 0755);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create %.400s: %s", b->config_dir, strerror(-rc));
        return -1;
    }
    if (bs_open(b, err, errlen) != 0) return -1;
    if (ha_glue_start(b, err, errlen) != 0) return -1;
    store_set_arrival_cb(b->store, pull_arrival_cb, b);
    txn_load(b);
    if (topics_load(b, err, errlen) != 0 || groups_load(b, err, errlen) != 0 ||
        offsets_load(b, err, errlen) != 0 || schedule_load(b, err, errlen) != 0)
        return -1;
    if (register_init(b, err, errlen) != 0) return -1;

    rm_server_opts_t so = {.name = "broker"};
    so.max_frame = (uint32_t)c->maxMessageSize + (1u << 20) > RM_DEFAULT_MAX_FRAME
                       ? (uint32_t)c->maxMessageSize + (1u << 20)
                       : RM_DEFAULT_MAX_FRAME;
    b->srv = rm_server_create(&b->loop, &so);
    if (!b->srv) {
        snprintf(err, errlen, "cannot create the remoting server");
        return -1;
    }
    route(b);
    rc = rm_server_listen(b->srv, c->bindAddress, c->listenPort);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", c->bindAddress, c->listenPort, strerror(-rc));
        return -1;
    }
    b->port = rm_server_port(b->srv, 0);
    if (b->port > 2) {
        rc = rm_server_listen(b->srv, c->bindAddress, b->port - 2);
        if (rc != 0)
            log_warn("cannot listen on the VIP port %d: %s (clients with vipChannelEnabled will fail)",
                     b->port - 2, strerror(-rc));
    }
    uv_async_init(&b->loop, &b->stop_async, on_stop_async);
    uv_async_init(&b->loop, &b->arrival_async, on_arrival_async);
    uv_async_init(&b->loop, &b->done_async, on_done_async);
    b->stop_async.data = b->arrival_async.data = b->done_async.data = b;
    uv_timer_t *ts[] = {&b->t_register, &b->t_offsets, &b->t_scan, &b->t_hold, &b->t_stats,
                        &b->t_schedule, &b->t_delay_persist, &b->t_txn};
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        uv_timer_init(&b->loop, ts[i]);
        ts[i]->data = b;
    }
    uint64_t reg = (uint64_t)c->registerNameServerPeriod;
    uv_timer_start(&b->t_register, on_register_timer, reg, reg);
    uv_timer_start(&b->t_offsets, on_offsets_timer, (uint64_t)c->flushConsumerOffsetInterval,
                   (uint64_t)c->flushConsumerOffsetInterval);
    uv_timer_start(&b->t_scan, on_scan_timer, 10000, 10000);
    uv_timer_start(&b->t_hold, on_hold_timer, 100, 100);
    uv_timer_start(&b->t_stats, on_stats_timer, 0, 10000);
    uv_timer_start(&b->t_schedule, on_schedule_timer, 100, 0);
    {
        uint64_t ti = (uint64_t)(c->transactionCheckInterval < 1000 ? c->transactionCheckInterval : 1000);
        uv_timer_start(&b->t_txn, on_txn_timer, ti, ti);
    }
    uv_timer_start(&b->t_delay_persist, on_delay_persist_timer,
                   (uint64_t)c->flushDelayOffsetInterval, (uint64_t)c->flushDelayOffsetInterval);
    register_all(b);
    bm_start(b);
    return 0;
}

static void on_failed_server_closed(rm_server_t *srv, void *arg) { ((broker_t *)arg)->srv = NULL; }

static void loop_thread(void *arg) {
    thread_name("broker-loop");
    broker_t *b = arg;
    if (setup(b, b->startup_err, sizeof(b->startup_err)) != 0) {
        b->startup_status = -1;
        b->stopping = 1;
        /* Close every handle setup opened (the HA glue's async keeps the loop alive). */
        ha_glue_loop_close(b);
        if (b->srv) rm_server_close(b->srv, on_failed_server_closed, b);
        uv_run(&b->loop, UV_RUN_DEFAULT);
        uv_sem_post(&b->started);
        return;
    }
    b->startup_status = 0;
    /* the loop's puts wake the dispatcher once per iteration, after the replies went out */
    store_defer_wakeups();
    uv_check_init(&b->loop, &b->kick_check);
    b->kick_check.data = b;
    uv_check_start(&b->kick_check, on_kick_check);
    log_info("broker %s (%s) listening on %s:%d (VIP %d), store %s, %s, NameServers [%s]",
             b->conf.brokerName, b->conf.brokerClusterName, b->conf.brokerIP1, b->port,
             b->port - 2, b->conf.storePathRootDir,
             b->conf.flushDiskType ? "SYNC_FLUSH" : "ASYNC_FLUSH",
             b->conf.namesrvAddr ? b->conf.namesrvAddr : "");
    uv_sem_post(&b->started);
    uv_run(&b->loop, UV_RUN_DEFAULT);
}

broker_t *broker_start(const broker_config_t *conf, char *err, size_t errlen) {
    broker_t *b = xcalloc(1, sizeof(*b));
    broker_config_copy(&b->conf, conf);
    if (broker_config_finish(&b->conf, err, errlen) != 0) {
        broker_config_free(&b->conf);
        free(b);
        return NULL;
    }
    b->boot_ts = now_ms();
    pthread_mutex_init(&b->done_mu, NULL);
    topics_init(b);
    groups_init(b);
    offsets_init(b);
    clients_init(b);
    pull_init(b);
    strmap_init(&b->locks);
    txn_init(b);
    strmap_init(&b->sql_cache);
    uv_loop_init(&b->loop);
    uv_sem_init(&b->started, 0);
    if (uv_thread_create(&b->thread, loop_thread, b) != 0) {
        snprintf(err, errlen, "cannot create the broker thread");
        uv_sem_destroy(&b->started);
        uv_loop_close(&b->loop);
        bs_close(b);
        free_all(b);
        return NULL;
    }
    uv_sem_wait(&b->started);
    uv_sem_destroy(&b->started);
    if (b->startup_status != 0) {
        uv_thread_join(&b->thread);
        snprintf(err, errlen, "%s", b->startup_err);
        uv_loop_close(&b->loop);
        bs_close(b);
        free_all(b);
        return NULL;
    }
    b->thread_started = 1;
    return b;
}

int broker_port(const broker_t *b) { return b ? b->port : 0; }
int broker_metrics_port(const broker_t *b) { return b ? bm_port(b) : 0; }

void broker_stop(broker_t *b) {
    if (!b) return;
    bm_stop_http(b); /* a scrape in flight needs the loop running */
    uv_async_send(&b->stop_async);
    uv_thread_join(&b->thread);
    /* The loop has ended: every handle is closed and every queued file write done. */
    b->stopping = 1;
    unregister_all(b);
    offsets_persist(b, 1);
    schedule_persist(b, 1);
    buf_t out;
    buf_init(&out);
    topics_json(b, &out, 0);
    bk_persist_sync(b, "topics.json", &out);
    groups_json(b, &out);
    bk_persist_sync(b, "subscriptionGroup.json", &out);
    buf_free(&out);
    bs_close(b);
    send_drain_done(b); /* waiters completed by store_close; their conns are gone */
    if (uv_loop_close(&b->loop) != 0) log_warn("broker loop closed with handles still open");
    log_info("broker %s stopped", b->conf.brokerName);
    free_all(b);
}

/* ---- `petrel broker` ---- */

static void usage(FILE *f) {
    fprintf(f,
            "usage: petrel broker [-c broker.conf] [-n namesrvAddr] [--key=value ...]\n"
            "  -c FILE         RocketMQ broker.conf (key=value properties)\n"
            "  -n ADDR         NameServer address(es), host:port;host:port\n"
            "  -p              print the effective configuration and exit\n"
            "  --key=value     any config key (see --help-config), overrides the file\n"
            "  --help-config   list every config key with its default\n");
}

int broker_main(int argc, char **argv) {
    log_set_component("broker");
    const char *conf_path = NULL, *ns = NULL;
    int print = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(argv[i], "--help-config") == 0) {
            cfg_print_help(broker_cfg_defs, "broker");
            return 0;
        }
        if (strcmp(argv[i], "-p") == 0 || strcmp(argv[i], "--printConfigItem") == 0) print = 1;
        else if (strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "-n") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "petrel broker: %s needs a value\n", argv[i]);
                return 2;
            }
            if (argv[i][1] == 'c') conf_path = argv[++i];
            else ns = argv[++i];
        } else if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "petrel broker: unexpected argument '%s'\n\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    broker_config_t conf;
    broker_config_defaults(&conf);
    char err[512];
    if (conf_path && cfg_load_file(broker_cfg_defs, &conf, conf_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "petrel broker: %s\n", err);
        broker_config_free(&conf);
        return 2;
    }
    if (ns && broker_config_set(&conf, "namesrvAddr", ns, err, sizeof(err)) != 0) {
        fprintf(stderr, "petrel broker: %s\n", err);
        broker_config_free(&conf);
        return 2;
    }
    if (cfg_apply_args(broker_cfg_defs, &conf, argc - 1, argv + 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "petrel broker: %s\n", err);
        broker_config_free(&conf);
        return 2;
    }
    if (broker_config_finish(&conf, err, sizeof(err)) != 0) {
        fprintf(stderr, "petrel broker: bad configuration: %s\n", err);
        broker_config_free(&conf);
        return 2;
    }
    int lvl = log_parse_level(conf.logLevel);
    if (lvl >= 0) log_set_level((log_level_t)lvl);
    if (print) {
        char v[2048];
        for (const cfg_def_t *d = broker_cfg_defs; d->key; d++) {
            cfg_get(broker_cfg_defs, &conf, d->key, v, sizeof(v));
            printf("%s=%s\n", d->key, v);
        }
        broker_config_free(&conf);
        return 0;
    }
    /* Signals go to this thread only (sigwait); every other thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    broker_t *b = broker_start(&conf, err, sizeof(err));
    broker_config_free(&conf);
    if (!b) {
        fprintf(stderr, "petrel broker: %s\n", err);
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    log_info("got signal %d", sig);
    broker_stop(b);
    return 0;
}
