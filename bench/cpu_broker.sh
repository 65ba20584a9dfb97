#!/usr/bin/env bash
# Broker CPU (user+sys, from /proc) and context switches per message for a produce run of N
# messages followed by a consume of them (real run, no valgrind; wall figures are noisy on a
# shared machine, CPU per message much less so).
# Usage: bench/cpu_broker.sh [N=200000] [size=100] [mode=async] [extra bench args...]
set -u
N=${1:-200000}; SIZE=${2:-100}; MODE=${3:-async}; shift 3 2>/dev/null; EXTRA="$*"
PETREL=${PETREL:-build/petrel}
OUT=${OUT:-$(mktemp -d /tmp/petrel-cpu.XXXXXX)}; mkdir -p "$OUT"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
NS_PORT=$(port); BR_PORT=$(( $(port) | 1 )); [ $BR_PORT -lt 60000 ] || BR_PORT=40001
"$PETREL" namesrv --listenPort=$NS_PORT --kvConfigPath=$OUT/kv.json > $OUT/namesrv.log 2>&1 & NS=$!
sleep 0.3
"$PETREL" broker --listenPort=$BR_PORT --namesrvAddr=127.0.0.1:$NS_PORT --storePathRootDir=$OUT/store \
  --brokerName=broker-a --brokerIP1=127.0.0.1 --flushDiskType=ASYNC_FLUSH > $OUT/broker.log 2>&1 & BR=$!
for i in $(seq 1 60); do "$PETREL" admin clusterList -n 127.0.0.1:$NS_PORT 2>/dev/null | grep -q broker-a && break; sleep 0.3; done
"$PETREL" bench produce -n 127.0.0.1:$NS_PORT -s $SIZE --mode $MODE -N 5000 --quiet --json -t PT $EXTRA > /dev/null 2>&1
snap() { python3 - $BR <<'PY'
import sys,os,glob
pid=sys.argv[1]; tck=os.sysconf('SC_CLK_TCK')
f=open('/proc/%s/stat'%pid).read().rsplit(')',1)[1].split()
cpu=(int(f[11])+int(f[12]))/tck
cs=0
for t in glob.glob('/proc/%s/task/*/status'%pid):
    for l in open(t):
        if 'ctxt_switches' in l: cs+=int(l.split()[1])
print(cpu,cs,int(f[12])/tck)
PY
}
read c0 s0 k0 < <(snap)
# PERF=1: sample the broker (cpu-clock, user and kernel) during the produce phase
[ -n "${PERF:-}" ] && { perf record -e cpu-clock -F 2000 -g -o $OUT/perf.data -p $BR > /dev/null 2>&1 & PF=$!; sleep 0.5; }
"$PETREL" bench produce -n 127.0.0.1:$NS_PORT -s $SIZE --mode $MODE -N $N --quiet --json -t PT $EXTRA > $OUT/produce.json 2>/dev/null
read c1 s1 k1 < <(snap)
[ -n "${PERF:-}" ] && { kill -INT $PF; wait $PF; echo "perf report -i $OUT/perf.data"; }
"$PETREL" bench consume -n 127.0.0.1:$NS_PORT -N $N --from min -g G1 --quiet --json -t PT > $OUT/consume.json 2>/dev/null
read c2 s2 k2 < <(snap)
kill $BR; wait $BR 2>/dev/null; kill $NS; wait $NS 2>/dev/null
python3 - "$N" $c0 $s0 $c1 $s1 $c2 $s2 $OUT $k0 $k1 $k2 <<'PY'
import sys,json
n=int(sys.argv[1]); c0,s0,c1,s1,c2,s2=map(float,sys.argv[2:8]); out=sys.argv[8]; k0,k1,k2=map(float,sys.argv[9:12])
p=json.load(open(out+'/produce.json')); c=json.load(open(out+'/consume.json'))
print("produce: %.0f msg/s  broker cpu %.2f us/msg (sys %.2f)  ctx switches %.3f/msg" % (p['tps'], (c1-c0)*1e6/n, (k1-k0)*1e6/n, (s1-s0)/n))
print("consume: %.0f msg/s  broker cpu %.2f us/msg (sys %.2f)  ctx switches %.3f/msg" % (c.get('recvTps',0), (c2-c1)*1e6/n, (k2-k1)*1e6/n, (s2-s1)/n))
PY
rm -rf $OUT/store
