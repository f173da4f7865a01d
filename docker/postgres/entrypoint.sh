#!/bin/bash
# docker-entrypoint style start of PostgreSQL:
#  1. first start: initdb in the data volume (owner role = POSTGRES_ADMIN_USER, no password yet)
#  2. every start: pg_hba.conf and pg_ident.conf rewritten (no `trust` anywhere: the Unix socket
#     admits only this container's server account, as the admin; TCP needs SCRAM), then on a private
#     server (Unix socket only, so the health check stays red) the bootstrap both stacks share,
#     wikistream/schema.py: the database if missing, sql/ in one transaction, every role's password
#     (from /run/secrets/POSTGRES_<ROLE>_PASSWORD, or the environment variable of that name)
#  3. exec the server on TCP, with no password left in its environment.
set -euo pipefail

: "${POSTGRES_DB:?}" "${POSTGRES_ADMIN_USER:?}" "${POSTGRES_PORT:=5432}"
socket=/var/run/postgresql

server_major="$(postgres --version | sed -E 's/.* ([0-9]+)\..*/\1/')"
if [ -s "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$server_major" ]; then
    echo "entrypoint: the data volume holds PostgreSQL $(cat "$PGDATA/PG_VERSION") data; this image runs" \
        "PostgreSQL $server_major. Dump it with the old image and restore it, or remove the volume (its data" \
        "is lost) and apply again." >&2
    exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    # No password here: the bootstrap below sets it, as it does on every start (a rotated secret).
    initdb -D "$PGDATA" -U "$POSTGRES_ADMIN_USER" --auth-local=peer --auth-host=reject \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    echo "entrypoint: initialised $PGDATA"
fi

# Other containers, and the published port, reach the server through the bridge network (samenet).
cat >"$PGDATA/pg_hba.conf" <<HBA
local all all peer map=server_account
host  all all samenet scram-sha-256
HBA
echo "server_account $(id -un) $POSTGRES_ADMIN_USER" >"$PGDATA/pg_ident.conf"

pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -c unix_socket_directories=$socket -c port=$POSTGRES_PORT" start
WIKISTREAM_SECRETS_DIR="${WIKISTREAM_SECRETS_DIR:-/run/secrets}" PYTHONPATH=/opt/wikistream \
    /opt/venv/bin/python -m wikistream.schema \
    --host "$socket" --port "$POSTGRES_PORT" --dbname "$POSTGRES_DB"

pg_ctl -D "$PGDATA" -w -s -m fast stop
while read -r variable; do
    unset "$variable"
done < <(compgen -v | grep -E '^POSTGRES_[A-Z]+_PASSWORD$' || true)
echo "entrypoint: schema applied to database $POSTGRES_DB, starting the server"
exec postgres -D "$PGDATA" \
    -c listen_addresses='*' \
    -c port="$POSTGRES_PORT" \
    -c unix_socket_directories="$socket" \
    -c timezone=UTC \
    -c max_connections=100
