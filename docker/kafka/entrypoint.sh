#!/bin/bash
# One KRaft node (broker + controller). Two client listeners: INTERNAL for the containers on the
# stack's network, EXTERNAL for clients on the host (published by Terraform). Storage is formatted
# once (the data volume keeps meta.properties); the topic is created before the node reports ready.
set -euo pipefail

: "${KAFKA_TOPIC:?}" "${KAFKA_TOPIC_PARTITIONS:=1}" "${KAFKA_HEAP:=512m}"
: "${KAFKA_INTERNAL_HOST:=kafka}" "${KAFKA_INTERNAL_PORT:=29092}"
: "${KAFKA_EXTERNAL_PORT:=9092}" "${KAFKA_EXTERNAL_ADVERTISED:=127.0.0.1:9092}"
: "${KAFKA_CONTROLLER_PORT:=9093}"
: "${KAFKA_RETENTION_HOURS:?}" "${KAFKA_RETENTION_BYTES:?}" "${KAFKA_SEGMENT_BYTES:?}"

home=/opt/kafka
data=/var/lib/kafka/data
conf=/tmp/kafka-conf
ready=/tmp/kafka-ready
rm -f "$ready"
mkdir -p "$conf"

cat >"$conf/server.properties" <<PROPERTIES
controller.quorum.voters=1@127.0.0.1:${KAFKA_CONTROLLER_PORT}
listeners=INTERNAL://0.0.0.0:${KAFKA_INTERNAL_PORT},EXTERNAL://0.0.0.0:${KAFKA_EXTERNAL_PORT},CONTROLLER://127.0.0.1:${KAFKA_CONTROLLER_PORT}
advertised.listeners=INTERNAL://${KAFKA_INTERNAL_HOST}:${KAFKA_INTERNAL_PORT},EXTERNAL://${KAFKA_EXTERNAL_ADVERTISED}
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
log.dirs=${data}
log.retention.hours=${KAFKA_RETENTION_HOURS}
log.retention.bytes=${KAFKA_RETENTION_BYTES}
log.segment.bytes=${KAFKA_SEGMENT_BYTES}
PROPERTIES
cat "$home/broker.properties" >>"$conf/server.properties"

java_cmd=(java -Xms"$KAFKA_HEAP" -Xmx"$KAFKA_HEAP" -XX:+UseG1GC -Dlog4j2.configurationFile="$home/log4j2.properties"
          -cp "$home/libs/*:$home/tools")

if [ ! -f "$data/meta.properties" ]; then
    # A random 16-byte id, base64url without padding: what `kafka-storage random-uuid` prints.
    cluster_id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
    "${java_cmd[@]}" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf/server.properties"
fi

"${java_cmd[@]}" kafka.Kafka "$conf/server.properties" &
broker=$!
stopping=0
trap 'stopping=1; kill -TERM "$broker" 2>/dev/null' TERM INT

java -Xmx128m -Dlog4j2.configurationFile="$home/log4j2.properties" -cp "$home/libs/*:$home/tools" \
    wikistream.KafkaTopicInit "127.0.0.1:${KAFKA_INTERNAL_PORT}" "$KAFKA_TOPIC" "$KAFKA_TOPIC_PARTITIONS" 120
touch "$ready"

# `wait` returns early when the trap fires: then wait again, for the broker's clean shutdown.
set +e
wait "$broker"
status=$?
if kill -0 "$broker" 2>/dev/null; then
    wait "$broker"
    status=$?
fi
# A broker stopped on request exits 143 (SIGTERM); that is a clean stop, not a failure.
if [ "$stopping" = 1 ]; then
    exit 0
fi
exit "$status"
