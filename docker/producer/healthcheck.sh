#!/bin/bash
# Healthy once the users are seeded and the click stream (PID 1) is running.
test -f /tmp/producer-seeded && tr '\0' ' ' </proc/1/cmdline | grep -q ' producer run '
