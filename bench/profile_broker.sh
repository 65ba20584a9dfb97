#!/usr/bin/env bash
# Broker CPU per message, deterministic: runs the broker under callgrind (instruction counts),
# sends N messages with `petrel bench produce`, then pulls them back with `petrel bench consume`,
# and prints broker instructions per message for each phase (callgrind dumps between phases).
# Usage: bench/profile_broker.sh [N=20000] [size=100] [mode=async]   (PETREL=build/petrel)
set -u
N=${1:-20000}; SIZE=${2:-100}; MODE=${3:-async}
PETREL=${PETREL:-build/petrel}
OUT=${OUT:-$(mktemp -d /tmp/petrel-prof.XXXXXX)}
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
NS_PORT=$(port); BR_PORT=$(( $(port) | 1 )); [ $BR_PORT -lt 60000 ] || BR_PORT=40001
"$PETREL" namesrv --listenPort=$NS_PORT --kvConfigPath=$OUT/kv.json > $OUT/namesrv.log 2>&1 & NS=$!
sleep 0.5
valgrind --tool=callgrind --callgrind-out-file=$OUT/cg.%p --dump-instr=no --collect-atstart=yes --compress-strings=no --compress-pos=no \
  "$PETREL" broker --listenPort=$BR_PORT --namesrvAddr=127.0.0.1:$NS_PORT --storePathRootDir=$OUT/store \
  --brokerName=broker-a --brokerIP1=127.0.0.1 --flushDiskType=ASYNC_FLUSH > $OUT/broker.log 2>&1 & BR=$!
for i in $(seq 1 120); do grep -q "register" $OUT/namesrv.log 2>/dev/null && break; \
  "$PETREL" admin clusterList -n 127.0.0.1:$NS_PORT 2>/dev/null | grep -q broker-a && break; sleep 0.5; done
# warm-up: creates topic, routes, first commit-log pages
"$PETREL" bench produce -n 127.0.0.1:$NS_PORT -s $SIZE --mode $MODE -N 2000 --quiet --json -t PT > /dev/null 2>&1
"$PETREL" bench consume -n 127.0.0.1:$NS_PORT -N 2000 --quiet --json -t PT -g G0 > /dev/null 2>&1
callgrind_control -z $BR > /dev/null 2>&1
"$PETREL" bench produce -n 127.0.0.1:$NS_PORT -s $SIZE --mode $MODE -N $N --quiet --json -t PT > $OUT/produce.json 2>$OUT/produce.err
callgrind_control -d produce $BR > /dev/null 2>&1; sleep 1
"$PETREL" bench consume -n 127.0.0.1:$NS_PORT -N $N --from min -g G1 --quiet --json -t PT > $OUT/consume.json 2>$OUT/consume.err
callgrind_control -d consume $BR > /dev/null 2>&1; sleep 1
kill $BR; wait $BR 2>/dev/null; kill $NS; wait $NS 2>/dev/null
python3 - "$OUT" "$N" <<'PY'
import glob,re,sys
out,n=sys.argv[1],int(sys.argv[2])
for ph in ("produce","consume"):
    tot=0
    for f in glob.glob(out+"/cg.*"):
        t=open(f,errors="replace").read(4000)
        if re.search(r"Trigger: dump "+ph,t):
            m=re.search(r"^summary: (\d+)",open(f,errors="replace").read(),re.M) or re.search(r"^totals: (\d+)",open(f,errors="replace").read(),re.M)
            tot+=int(m.group(1))
    print("%s: %d broker instructions/msg" % (ph, tot//n))
PY
rm -rf $OUT/store
echo "profiles in $OUT (callgrind_annotate $OUT/cg.<pid>.N)"; cat $OUT/produce.json; echo; cat $OUT/consume.json
