#!/bin/bash
# Seed the users table (idempotent upsert), then stream clicks until stopped.
#   PRODUCER_USER_SOURCE  auto (Random User API, offline fallback) | api | offline
#   PRODUCER_RATE         clicks per second
set -euo pipefail
rm -f /tmp/producer-seeded
python -m producer seed-users --source "${PRODUCER_USER_SOURCE:-auto}"
touch /tmp/producer-seeded
# The journal lives in the container's own layer, so a restart of the container (a crash) resumes the run.
exec python -m producer run --rate "${PRODUCER_RATE:?}" --journal "${PRODUCER_JOURNAL:-/tmp/producer/journal.json}"
