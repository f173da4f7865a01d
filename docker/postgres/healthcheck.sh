#!/bin/bash
# Healthy once the server accepts TCP connections: only after the entrypoint applied the schema.
exec pg_isready -q -h 127.0.0.1 -p "${POSTGRES_PORT:-5432}" -d "${POSTGRES_DB:-postgres}" -U "${POSTGRES_ADMIN_USER:?}"
