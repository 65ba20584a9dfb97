#!/usr/bin/env bash
# Compile and run PetrelCompat (Apache RocketMQ 4.9.8 Java client) against NAMESRV.
# Needs /tmp/rmqjava from /work/shared/reference-broker/build.sh (or OUT=...).
#   tests/java/run.sh 127.0.0.1:9876 [test ...]
set -euo pipefail
OUT=${OUT:-/tmp/rmqjava}
NS=${1:?usage: run.sh NAMESRV [test ...]}; shift
D=$(cd "$(dirname "$0")" && pwd)
B=${BUILD_DIR:-/tmp/petrel-java-tests}
mkdir -p "$B"
CP=$(cat "$OUT/classpath")
javac -nowarn -d "$B" -cp "$CP" "$D"/PetrelCompat.java 2>&1 | grep -v '^Note:' || true
H=$(mktemp -d /tmp/petrel-java-home.XXXXXX)
trap 'rm -rf "$H"' EXIT
set -o pipefail
java -Duser.home="$H" -Drocketmq.client.logRoot="$H/logs" -Drocketmq.client.logLevel=WARN \
  -cp "$CP:$B" PetrelCompat "$NS" "$@" 2>&1 | grep --line-buffered -v 'INFO RocketmqRemoting'
