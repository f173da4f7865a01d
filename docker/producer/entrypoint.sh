#!/bin/bash
# Seed the users table (idempotent upsert), then stream clicks until stopped.
#   PRODUCER_USER_SOURCE  auto (Random User API, offline fallback) | api | offline
#   PRODUCER_RATE         clicks per second
set -euo pipefail
rm -f /tmp/producer-seeded
python -m producer seed-users --source "${PRODUCER_USER_SOURCE:-auto}"
touch /tmp/producer-seeded
exec python -m producer run --rate "${PRODUCER_RATE:?}"
