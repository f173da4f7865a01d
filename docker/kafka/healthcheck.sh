#!/bin/bash
# Healthy once the topic exists (the entrypoint's marker) and the internal listener accepts connections.
test -f /tmp/kafka-ready && exec 3<>"/dev/tcp/127.0.0.1/${KAFKA_INTERNAL_PORT:-29092}"
