#!/usr/bin/env bash
# bench/run_all.sh: the issue 8 performance table in one run (`make bench`).
# Starts a Petrel NameServer + broker (ASYNC_FLUSH, then SYNC_FLUSH) on loopback, runs
# `petrel bench` for each row, then the peers of ../shared/bench/peers (Redis Streams with AOF,
# NATS JetStream, RabbitMQ with durable queues and confirms) and prints each Petrel figure
# beside the peer's, with the ratio.
#
# Knobs (env): PETREL=build/petrel  DUR=10 (s per row)  WARMUP=1 (s before each row, not counted)
#   SUSTAIN_SECS=60 (producer+consumer row at half the pipelined maximum)  PEERS=/work/shared/bench/peers
#   SKIP_PEERS=1 (Petrel only)  PEER_RUNS=1  NS_PORT=19876 BROKER_PORT=20911
#   NAMESRV=host:port: measure an already running NameServer/broker instead (no start; one flush
#   mode, labelled FLUSH=...). OUT=dir for raw results (default a temp dir, kept).
#   REPORT_ONLY=1 OUT=dir: print the table of an earlier run again.
#   BROKER_ARGS="--key=value ...": extra broker options; default --commitLogCacheWindowMB=256 (this
#   machine is a VM whose host takes freed memory back: docs/storage.md); BROKER_ARGS= for defaults.
# Output: a table on stdout; raw JSON lines in $OUT/petrel.jsonl and peer logs in $OUT/peers.log.
set -u
cd "$(dirname "$0")/.."
PETREL=${PETREL:-build/petrel}
DUR=${DUR:-10}
WARMUP=${WARMUP:-1}             # seconds run before each row's measurement starts
SUSTAIN_SECS=${SUSTAIN_SECS:-60}
# FRESH=1: every row starts its own NameServer + broker on an empty store, so rows are independent
# experiments (what one row wrote does not slow the next: fresh page-cache memory, write-back);
# FRESH=0: one broker per flush mode for the whole table. Long-run behaviour: the sustained row.
FRESH=${FRESH:-1}
PEERS=${PEERS:-/work/shared/bench/peers}
BROKER_ARGS=${BROKER_ARGS---commitLogCacheWindowMB=256}
# free ports (the broker also binds port-2 and port+1); other runs may hold the usual ones
port_busy() { ss -ltnH "( sport = :$1 )" 2>/dev/null | grep -q .; }
free_port() {
  local p
  for _ in $(seq 200); do
    p=$(( (RANDOM % 20000) + 30000 ))
    port_busy $p || port_busy $((p-2)) || port_busy $((p+1)) || { echo $p; return; }
  done
  echo 0
}
NS_PORT=${NS_PORT:-$(free_port)}
BROKER_PORT=${BROKER_PORT:-$(free_port)}
OUT=${OUT:-$(mktemp -d /tmp/petrel-bench.XXXXXX)}
mkdir -p "$OUT"
[ -x "$PETREL" ] || { echo "no $PETREL: run make build first" >&2; exit 2; }
[ -n "${REPORT_ONLY:-}" ] || : > "$OUT/petrel.jsonl"

NS_PID=; BR_PID=
stop_petrel() {
  [ -n "$BR_PID" ] && kill "$BR_PID" 2>/dev/null && wait "$BR_PID" 2>/dev/null
  [ -n "$NS_PID" ] && kill "$NS_PID" 2>/dev/null && wait "$NS_PID" 2>/dev/null
  BR_PID=; NS_PID=
}
trap stop_petrel EXIT

start_petrel() { # $1 = ASYNC_FLUSH | SYNC_FLUSH
  local d="$OUT/data-$1"; rm -rf "$d"; mkdir -p "$d"
  "$PETREL" namesrv --listenPort=$NS_PORT --kvConfigPath="$d/kvConfig.json" > "$d/namesrv.log" 2>&1 & NS_PID=$!
  # the broker registers at start and then every 30 s: the NameServer must listen first
  for _ in $(seq 100); do port_busy $NS_PORT && break; sleep 0.05; done
  "$PETREL" broker --listenPort=$BROKER_PORT --namesrvAddr=127.0.0.1:$NS_PORT --storePathRootDir="$d/store" \
    --brokerName=broker-a --brokerIP1=127.0.0.1 --flushDiskType=$1 $BROKER_ARGS > "$d/broker.log" 2>&1 & BR_PID=$!
  for _ in $(seq 100); do
    kill -0 "$NS_PID" 2>/dev/null && kill -0 "$BR_PID" 2>/dev/null || break
    "$PETREL" admin clusterList -n 127.0.0.1:$NS_PORT --json 2>/dev/null |
      grep -q "127.0.0.1:$BROKER_PORT" && return 0
    sleep 0.1
  done
  echo "petrel did not start ($1); logs in $d" >&2; return 1
}

ticks() { [ -n "$BR_PID" ] && awk '{print $14+$15}' /proc/$BR_PID/stat 2>/dev/null || echo 0; }

# row <flush> <label> <petrel bench args...>: one bench run, its JSON summary tagged and kept
row() {
  local flush=$1 label=$2; shift 2
  if [ "$FRESH" = 1 ]; then start_petrel "$flush" || return 1; fi
  local t0; t0=$(ticks)
  local j; j=$("$PETREL" bench "$@" -n "$NS" -d "${ROW_DUR:-$DUR}" --warmup "$WARMUP" --quiet --json 2>>"$OUT/bench.stderr" | tail -1)
  local t1; t1=$(ticks)
  if [ "$FRESH" = 1 ]; then stop_petrel; rm -rf "$OUT/data-$flush/store"; sync; fi
  [ -z "$j" ] && j='{}'
  python3 - "$flush" "$label" "$j" "$t0" "$t1" "$*" >> "$OUT/petrel.jsonl" <<'PY'
import json, sys
flush, label, j, t0, t1, args = sys.argv[1:7]
d = json.loads(j or "{}")
d.update(flush=flush, label=label, args="petrel bench " + args)
n = d.get("countAll", 0) or d.get("count", 0) or d.get("received", 0)  # warm-up included, as the ticks
if n and int(t1) > int(t0):
    d["brokerCpuUsPerMsg"] = round((int(t1) - int(t0)) * 10000.0 / n, 2)
print(json.dumps(d))
PY
  tail -1 "$OUT/petrel.jsonl" | python3 -c 'import json,sys; d=json.load(sys.stdin); l=d.get("latencyMs",{}); e=d.get("e2eMs",{}); print("  %-10s %-26s %9.0f msg/s %7.1f MB/s  p99 %s ms%s  fail=%s  cpu %s us/msg" % (d["flush"], d["label"], d.get("tps", d.get("recvTps",0)) or 0, d.get("mbps", 0) or 0, l.get("p99","-"), ("  e2e p50/p99/p999 %.3f/%.3f/%.3f" % (e["p50"], e["p99"], e["p999"])) if e else "", d.get("failures","-"), d.get("brokerCpuUsPerMsg","-")))'
}

# tps of an earlier row of this run
row_tps() { python3 -c 'import json,sys
for l in open(sys.argv[1]):
    d = json.loads(l)
    if d.get("flush") == sys.argv[2] and d.get("label") == sys.argv[3]: print(int(d.get("tps") or 0))' "$OUT/petrel.jsonl" "$1" "$2" | tail -1; }

petrel_table() { # $1 flush
  local f=$1 t="Bench$1$$"
  row "$f" "100B 64x1 sync"        produce -t "$t" -s 100  --mode sync -w 64 -c 4
  row "$f" "100B pipelined"        produce -t "$t" -s 100  --mode async -c 4 --inflight 256
  row "$f" "100B batch"            produce -t "$t" -s 100  --mode batch --batch 64 -c 2 --inflight 16
  row "$f" "1KiB 64x1 sync"        produce -t "$t" -s 1024 --mode sync -w 64 -c 4
  row "$f" "1KiB pipelined"        produce -t "$t" -s 1024 --mode async -c 4 --inflight 128
  row "$f" "1KiB batch"            produce -t "$t" -s 1024 --mode batch --batch 32 -c 2 --inflight 8
  row "$f" "e2e 100B @2000/s"      e2e -t "E2e$t" -s 100 --rate 2000 -c 1 --inflight 64
  row "$f" "e2e 100B @10000/s"     e2e -t "E2e$t" -s 100 --rate 10000 -c 2 --inflight 64
  # last (they write the most): latency at half the pipelined maximum (one producer connection), and a consumer keeping up
  # with that rate for SUSTAIN_SECS (lag sampled every second)
  local half; half=$(( $(row_tps "$f" "100B pipelined") / 2 ))
  if [ "$half" -gt 0 ]; then
    row "$f" "100B @half max"      produce -t "Half$t" -s 100 --mode async -c 1 --inflight 256 --rate "$half"
    ROW_DUR=$SUSTAIN_SECS row "$f" "e2e 100B @half max sustained" e2e -t "Sus$t" -s 100 -c 1 --inflight 256 --rate "$half" --consumers 2
  fi
}

echo "# Petrel ($PETREL), $DUR s per row, broker options: ${BROKER_ARGS:-none}; raw results in $OUT"
if [ -n "${REPORT_ONLY:-}" ]; then
  : # only print the table of an earlier run kept in $OUT
elif [ -n "${NAMESRV:-}" ]; then
  NS=$NAMESRV; FRESH=0; petrel_table "${FLUSH:-EXTERNAL}"
else
  NS=127.0.0.1:$NS_PORT
  for f in ASYNC_FLUSH SYNC_FLUSH; do
    if [ "$FRESH" = 1 ]; then petrel_table $f; continue; fi
    start_petrel $f || exit 3
    petrel_table $f
    stop_petrel
    # the next measurements must not pay for this store's write-back: drop it (logs stay)
    rm -rf "$OUT/data-$f/store"; sync
  done
fi

# the disk under the store: sequential write bandwidth and fdatasync rate bound SYNC_FLUSH
if [ -z "${REPORT_ONLY:-}" ]; then
  "$PETREL" bench store --quick --seconds 1 --dir "$OUT" --json 2>/dev/null | tail -1 > "$OUT/store.json"
fi
python3 - "$OUT/store.json" <<'PY' 2>/dev/null
import json, sys
p = json.load(open(sys.argv[1])).get("physical", {})
print("# disk: sequential write %.0f MB/s, fdatasync %.0f/s (p50 %.2f ms, p99 %.2f ms)  [petrel bench store --quick]" % (
    p["seq_write_mbps"], p["fdatasync_per_s"], p["fdatasync_p50_us"] / 1000, p["fdatasync_p99_us"] / 1000))
PY
if [ -z "${REPORT_ONLY:-}" ]; then : > "$OUT/peers.log"; fi
if [ -z "${SKIP_PEERS:-}" ] && [ -z "${REPORT_ONLY:-}" ]; then
  for p in redis-streams nats-jetstream rabbitmq; do
    echo "# peer $p ..."
    timeout 900 bash "$PEERS/$p.sh" "${PEER_RUNS:-1}" >> "$OUT/peers.log" 2>&1 || echo "  ($p failed: see $OUT/peers.log)"
  done
fi

python3 - "$OUT/petrel.jsonl" "$OUT/peers.log" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
peers = open(sys.argv[2]).read()
def p(flush, label, key="tps"):
    for r in rows:
        if r.get("flush") == flush and r.get("label") == label:
            if key.startswith("e2e."): return r.get("e2eMs", {}).get(key[4:])
            if key.startswith("lat."): return r.get("latencyMs", {}).get(key[4:])
            return r.get(key)
def redis(fs, size, c, pl, mb=False):
    vals = [float(m.group(2) if mb else m.group(1)) for m in re.finditer(
        r"redis fsync=%s size=%d clients=%d pipeline=%d run=\d+: ([0-9.]+) msg/s\s+([0-9.]+) MB/s" % (fs, size, c, pl), peers)]
    return max(vals) if vals else None
def js(peer, test, size, key):
    vals = []
    for l in peers.splitlines():
        i = l.find("{")
        if i < 0: continue
        try: d = json.loads(l[i:])
        except Exception: continue
        if d.get("peer", "redis" if "fsync=" in l else "") == peer and d.get("test") == test and d.get("size") == size and key in d:
            vals.append(d[key])
    if not vals: return None
    return min(vals) if "ms" in key else max(vals)
def redis_e2e(fs, size, key):
    for l in peers.splitlines():
        if l.startswith("redis fsync=%s " % fs) and '"e2e"' in l:
            d = json.loads(l[l.find("{"):])
            if d.get("size") == size: return d.get(key)
table = [
 ("ASYNC 100B 64 sync producers msg/s", p("ASYNC_FLUSH","100B 64x1 sync"), "Redis everysec 64x1", redis("everysec",100,64,1), 110000, True),
 ("ASYNC 100B pipelined msg/s", p("ASYNC_FLUSH","100B pipelined"), "Redis everysec 8x32", redis("everysec",100,8,32), 350000, True),
 ("ASYNC 100B pipelined msg/s", p("ASYNC_FLUSH","100B pipelined"), "NATS JetStream ingest", js("nats-js","ingest(core pub, no ack)",100,"msgs_s"), 350000, True),
 ("ASYNC 100B batch msg/s", p("ASYNC_FLUSH","100B batch"), "Redis everysec 8x32", redis("everysec",100,8,32), 1500000, True),
 ("ASYNC 1KiB pipelined msg/s", p("ASYNC_FLUSH","1KiB pipelined"), "Redis everysec 8x32", redis("everysec",1024,8,32), 250000, True),
 ("ASYNC 1KiB pipelined msg/s", p("ASYNC_FLUSH","1KiB pipelined"), "NATS JetStream ingest", js("nats-js","ingest(core pub, no ack)",1024,"msgs_s"), 250000, True),
 ("ASYNC 1KiB batch MB/s", p("ASYNC_FLUSH","1KiB batch","mbps"), "Redis everysec 8x32 MB/s", redis("everysec",1024,8,32,True), 600, True),
 ("SYNC 100B 64 sync producers msg/s", p("SYNC_FLUSH","100B 64x1 sync"), "Redis always 64x1", redis("always",100,64,1), 80000, True),
 ("SYNC 100B pipelined msg/s", p("SYNC_FLUSH","100B pipelined"), "Redis always 8x32", redis("always",100,8,32), 250000, True),
 ("SYNC 100B pipelined msg/s", p("SYNC_FLUSH","100B pipelined"), "RabbitMQ confirms", js("rabbitmq","publish",100,"msgs_s"), 250000, True),
 ("SYNC 1KiB 64 sync producers msg/s", p("SYNC_FLUSH","1KiB 64x1 sync"), "Redis always 64x1", redis("always",1024,64,1), 60000, True),
 ("SYNC 1KiB pipelined msg/s", p("SYNC_FLUSH","1KiB pipelined"), "Redis always 8x32", redis("always",1024,8,32), 150000, True),
 ("SYNC 1KiB pipelined msg/s", p("SYNC_FLUSH","1KiB pipelined"), "RabbitMQ confirms", js("rabbitmq","publish",1024,"msgs_s"), 150000, True),
 ("SYNC 1KiB batch MB/s", p("SYNC_FLUSH","1KiB batch","mbps"), "Redis always 8x32 MB/s", redis("always",1024,8,32,True), 350, True),
 ("ASYNC e2e p99 ms @2000/s", p("ASYNC_FLUSH","e2e 100B @2000/s","e2e.p99"), "NATS e2e p99 @2000/s", js("nats-js","e2e",100,"e2e_p99_ms"), 1.0, False),
 ("SYNC e2e p99 ms @2000/s", p("SYNC_FLUSH","e2e 100B @2000/s","e2e.p99"), "RabbitMQ e2e p99 @2000/s", js("rabbitmq","e2e",100,"e2e_p99_ms"), 2.0, False),
 ("ASYNC e2e p99 ms @2000/s", p("ASYNC_FLUSH","e2e 100B @2000/s","e2e.p99"), "Redis e2e p99 @2000/s", redis_e2e("everysec",100,"e2e_p99_ms"), 1.0, False),
 ("ASYNC e2e p50 ms @10000/s", p("ASYNC_FLUSH","e2e 100B @10000/s","e2e.p50"), "-", None, 0.15, False),
 ("ASYNC e2e p99 ms @10000/s", p("ASYNC_FLUSH","e2e 100B @10000/s","e2e.p99"), "-", None, 1.0, False),
 ("ASYNC e2e p999 ms @10000/s", p("ASYNC_FLUSH","e2e 100B @10000/s","e2e.p999"), "-", None, 3.0, False),
 ("SYNC e2e p99 ms @10000/s", p("SYNC_FLUSH","e2e 100B @10000/s","e2e.p99"), "-", None, 2.0, False),
 ("ASYNC 100B pipelined broker us/msg", p("ASYNC_FLUSH","100B pipelined","brokerCpuUsPerMsg"), "-", None, 2.5, False),
 ("ASYNC send-ack p99 ms @half max", p("ASYNC_FLUSH","100B @half max","lat.p99"), "-", None, 0.5, False),
 ("SYNC send-ack p99 ms @half max", p("SYNC_FLUSH","100B @half max","lat.p99"), "-", None, 1.5, False),
]
# a consumer sustaining the producer's rate: received/sent, and lag growth (mean lag of the last
# 10 s minus the first 10 s) against a tenth of a second of messages
for f in ("ASYNC_FLUSH", "SYNC_FLUSH"):
    r = next((x for x in rows if x.get("flush") == f and x.get("label") == "e2e 100B @half max sustained"), None)
    if not r or not r.get("count"): continue
    lag = r.get("lagPerSecond") or [0]
    k = max(1, min(10, len(lag) // 3))
    growth = sum(lag[-k:]) / k - sum(lag[:k]) / k
    rate = r.get("tps", 0)
    table.append(("%s consumer/producer %ds @%.0f/s" % (f[:-6], len(lag), rate), r.get("received", 0) / r["count"], "-", None, 0.99, True))
    table.append(("%s lag growth msgs (max %d)" % (f[:-6], r.get("lagMax", 0)), growth, "-", None, rate / 10, False))
fmt = lambda v: "-" if v is None else ("%.3f" % v if isinstance(v, float) and v < 10 else "%.0f" % v)
print("\n%-36s %12s  %-26s %12s  %8s  %s" % ("figure", "petrel", "peer", "peer value", "ratio", "goal"))
for name, pv, peer, qv, goal, higher in table:
    ratio = "-"
    if pv is not None and qv:
        ratio = "%.2fx" % ((pv / qv) if higher else (qv / pv if pv else 0))
    ok = "" if pv is None else ("met" if (pv >= goal if higher else pv <= goal) else "below goal")
    print("%-36s %12s  %-26s %12s  %8s  %s %s" % (name, fmt(pv), peer, fmt(qv), ratio, fmt(goal), ok))
print("\n(ratio > 1 means Petrel is better: higher throughput, or lower latency)")
PY
