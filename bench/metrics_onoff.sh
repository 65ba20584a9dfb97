#!/usr/bin/env bash
# Producer throughput with the broker's Prometheus metrics on and off, in one
# run: the same NameServer, a fresh broker store per round, rounds alternating
# on/off so drift hits both. With metrics on, /metrics is scraped every second
# during the run (Prometheus' default is every 15 s; NO_SCRAPE=1 turns it off).
# Prints each round and the
# median and best of each side. Usage: bench/metrics_onoff.sh [build dir] [seconds] [rounds]
set -euo pipefail
BUILD=${1:-build}
SECS=${2:-5}
ROUNDS=${3:-3}
BIN=$(cd "$BUILD" && pwd)/petrel
DIR=$(mktemp -d /tmp/petrel-metrics-bench.XXXXXX)
NS=$((20000 + RANDOM % 20000)); BR=$((NS + 7)); MP=$((NS + 11))
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$DIR"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.05; done; return 1; }

"$BIN" namesrv --listenPort=$NS --rocketmqHome="$DIR" >"$DIR/ns.log" 2>&1 & pids+=($!)
wait_port $NS
declare -a on off
for r in $(seq "$ROUNDS"); do
  order="on off"; [ $((r % 2)) = 0 ] && order="off on" # alternate who goes first
  for mode in $order; do
    rm -rf "$DIR/store"
    mport=-1; [ $mode = on ] && mport=$MP
    "$BIN" broker --namesrvAddr=127.0.0.1:$NS --listenPort=$BR --storePathRootDir="$DIR/store" \
      --brokerIP1=127.0.0.1 --brokerName=broker-bench --metricsPort=$mport >"$DIR/broker-$mode.log" 2>&1 &
    bp=$!
    wait_port $BR
    sleep 0.5
    scraper=""
    if [ $mode = on ] && [ -z "${NO_SCRAPE:-}" ]; then
      ( while sleep 1; do exec 3<>/dev/tcp/127.0.0.1/$MP && printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3 && cat <&3 >/dev/null; exec 3<&-; done ) 2>/dev/null &
      scraper=$!
    fi
    tps=$("$BIN" bench produce -n 127.0.0.1:$NS -t BenchMetrics -d "$SECS" --quiet --json 2>/dev/null |
          sed -n 's/.*"tps":\([0-9.]*\).*/\1/p' | head -1)
    [ -n "$scraper" ] && kill "$scraper" 2>/dev/null && wait "$scraper" 2>/dev/null || true
    kill $bp; wait $bp 2>/dev/null || true
    echo "round $r metrics=$mode: ${tps:-?} msg/s"
    if [ $mode = on ]; then on+=("${tps:-0}"); else off+=("${tps:-0}"); fi
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
best() { printf '%s\n' "$@" | sort -g | tail -1; }
echo "median metrics=on:  $(median "${on[@]}") msg/s   best: $(best "${on[@]}") msg/s"
echo "median metrics=off: $(median "${off[@]}") msg/s   best: $(best "${off[@]}") msg/s"
