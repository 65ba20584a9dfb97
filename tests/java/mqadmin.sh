#!/usr/bin/env bash
# Runs the official mqadmin (RocketMQ 4.9.8) subcommands against NAMESRV/BROKER and writes
# each output to OUTDIR/<subcommand>.txt plus a summary line "rc subcommand" per command.
#   tests/java/mqadmin.sh 127.0.0.1:9876 127.0.0.1:10911 /tmp/mqadmin-out
set -u
OUT=${OUT:-/tmp/rmqjava}
NS=${1:?NAMESRV}; BR=${2:?BROKER addr}; DIR=${3:?OUTDIR}
D=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DIR"
CP=$(cat "$OUT/classpath")
H=$(mktemp -d /tmp/petrel-mqadmin-home.XXXXXX)
J="java -Duser.home=$H -Drocketmq.home.dir=$OUT -Drocketmq.client.logRoot=$H/logs -cp $CP"
A() { local name=$1; shift; timeout 60 $J org.apache.rocketmq.tools.command.MQAdminStartup "$@" > "$DIR/$name.txt" 2>&1; echo "$? $name" | tee -a "$DIR/summary.txt"; }
T=mqa_$(date +%s)
: > "$DIR/summary.txt"
A clusterList clusterList -n "$NS"
A updateTopic updateTopic -n "$NS" -c DefaultCluster -t "$T" -r 4 -w 4
A updateTopic2 updateTopic -n "$NS" -b "$BR" -t "${T}_del" -r 2 -w 2
A topicList topicList -n "$NS"
A topicRoute topicRoute -n "$NS" -t "$T"
A sendMessage sendMessage -n "$NS" -t "$T" -p "hello mqadmin" -k "mqakey" -c "TagM"
A topicStatus topicStatus -n "$NS" -t "$T"
# ids from the send (the table row is: broker queue result msgId)
MSGID=$(awk '/SEND_OK/ {print $NF}' "$DIR/sendMessage.txt" | tail -1)
A queryMsgByKey queryMsgByKey -n "$NS" -t "$T" -k mqakey
A queryMsgByUniqueKey queryMsgByUniqueKey -n "$NS" -t "$T" -i "$MSGID"
# offset message id = store IPv4 (8 hex) + port (8 hex) + commit log offset (16 hex)
CLO=$(awk -F: '/CommitLog Offset/ {gsub(/ /,"",$2); print $2}' "$DIR/queryMsgByUniqueKey.txt")
SH=$(awk '/Store Host/ {print $3}' "$DIR/queryMsgByUniqueKey.txt")
OFFID=$(IFS=.: read -r a b c d p <<< "$SH"; printf '%02X%02X%02X%02X%08X%016X' "$a" "$b" "$c" "$d" "$p" "$CLO")
A queryMsgById queryMsgById -n "$NS" -i "$OFFID"
A queryMsgByIdUniq queryMsgById -n "$NS" -i "$MSGID"
Q=$(awk '/SEND_OK/ {print $2}' "$DIR/sendMessage.txt" | tail -1)
A queryMsgByOffset queryMsgByOffset -n "$NS" -t "$T" -b broker-a -i "${Q:-0}" -o 0
A printMsg printMsg -n "$NS" -t "$T"
A consumeMessage consumeMessage -n "$NS" -t "$T" -c 5
A updateSubGroup updateSubGroup -n "$NS" -c DefaultCluster -g cg_mqa
# a live producer pg_hold and consumer cg_hold on $T for the connection commands
java -Duser.home=$H -Drocketmq.client.logRoot=$H/logs -cp "$CP:${BUILD_DIR:-/tmp/petrel-java-tests}" PetrelCompat "$NS" hold "$T" 40 > "$DIR/hold.txt" 2>&1 &
HP=$!
for i in $(seq 1 60); do grep -q HOLDING "$DIR/hold.txt" && break; sleep 0.5; done
sleep 8
A consumerConnection consumerConnection -n "$NS" -g cg_hold
A producerConnection producerConnection -n "$NS" -g pg_hold -t "$T"
A consumerProgress consumerProgress -n "$NS" -g cg_hold
A consumerProgressAll consumerProgress -n "$NS"
A resetOffsetByTime resetOffsetByTime -n "$NS" -g cg_hold -t "$T" -s 0
A brokerStatus brokerStatus -n "$NS" -b "$BR"
A getBrokerConfig getBrokerConfig -n "$NS" -b "$BR"
A updateBrokerConfig updateBrokerConfig -n "$NS" -b "$BR" -k maxTransferCountOnMessageInDisk -v 9
A getBrokerConfig2 getBrokerConfig -n "$NS" -b "$BR"
grep -i "maxTransferCountOnMessageInDisk" "$DIR/getBrokerConfig2.txt" >> "$DIR/summary.txt"
A deleteTopic deleteTopic -n "$NS" -c DefaultCluster -t "${T}_del"
A topicList2 topicList -n "$NS"
grep -c "${T}_del" "$DIR/topicList2.txt" | sed 's/^/deleted topic still listed: /' >> "$DIR/summary.txt"
kill $HP 2>/dev/null; wait $HP 2>/dev/null
rm -rf "$H"
