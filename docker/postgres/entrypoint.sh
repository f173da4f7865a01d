#!/bin/bash
# docker-entrypoint style start of PostgreSQL:
#  1. the passwords come from /run/secrets/POSTGRES_<ROLE>_PASSWORD (read-only files Terraform
#     uploads), or from the environment variable of the same name
#  2. first start: initdb in the data volume (owner role = POSTGRES_ADMIN_USER)
#  3. every start: pg_hba.conf and pg_ident.conf rewritten (no `trust` anywhere: the Unix socket
#     admits only this container's server account, as the admin; TCP needs SCRAM), then on a private
#     server (Unix socket only, so the health check stays red): create POSTGRES_DB if missing, apply
#     /opt/wikistream/sql/NNN_*.sql in file-name order in one transaction, set every role's password
#  4. exec the server on TCP, with no password left in its environment.
set -euo pipefail

: "${POSTGRES_DB:?}" "${POSTGRES_ADMIN_USER:=wikistream_admin}" "${POSTGRES_PORT:=5432}"
socket=/var/run/postgresql
sql_dir=/opt/wikistream/sql
roles=(ADMIN SEEDER WRITER READER)

for role in "${roles[@]}"; do
    variable="POSTGRES_${role}_PASSWORD"
    file="/run/secrets/$variable"
    if [ -z "${!variable:-}" ] && [ -r "$file" ]; then
        export "$variable=$(cat "$file")"
    fi
    : "${!variable:?$variable is neither in /run/secrets nor in the environment}"
done

server_major="$(postgres --version | sed -E 's/.* ([0-9]+)\..*/\1/')"
if [ -s "$PGDATA/PG_VERSION" ] && [ "$(cat "$PGDATA/PG_VERSION")" != "$server_major" ]; then
    echo "entrypoint: the data volume holds PostgreSQL $(cat "$PGDATA/PG_VERSION") data; this image runs" \
        "PostgreSQL $server_major. Dump it with the old image and restore it, or remove the volume (its data" \
        "is lost) and apply again." >&2
    exit 1
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_ADMIN_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_ADMIN_USER" --pwfile="$pwfile" \
        --auth-local=peer --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "entrypoint: initialised $PGDATA"
fi

# Other containers, and the published port, reach the server through the bridge network (samenet).
cat >"$PGDATA/pg_hba.conf" <<HBA
local all all peer map=server_account
host  all all samenet scram-sha-256
HBA
echo "server_account $(id -un) $POSTGRES_ADMIN_USER" >"$PGDATA/pg_ident.conf"

pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -c unix_socket_directories=$socket -c port=$POSTGRES_PORT" start
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$POSTGRES_PORT" -U "$POSTGRES_ADMIN_USER" "$@"; }

psql_admin -d postgres -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL

{
    echo 'BEGIN;'
    echo "SELECT pg_advisory_xact_lock(hashtext('wikistream-schema'));"
    for file in "$sql_dir"/[0-9][0-9][0-9]_*.sql; do
        printf '\\echo applying %s\n' "$(basename "$file")"
        cat "$file"
        echo
    done
    # Passwords come from the environment (\getenv), never from the command line.
    echo '\getenv admin_pw POSTGRES_ADMIN_PASSWORD'
    echo "ALTER ROLE $POSTGRES_ADMIN_USER WITH PASSWORD :'admin_pw';"
    for role in SEEDER WRITER READER; do
        echo "\\getenv pw POSTGRES_${role}_PASSWORD"
        echo "ALTER ROLE wikistream_${role,,} WITH LOGIN PASSWORD :'pw';"
    done
    echo 'COMMIT;'
} | psql_admin -d "$POSTGRES_DB"

pg_ctl -D "$PGDATA" -w -s -m fast stop
for role in "${roles[@]}"; do
    unset "POSTGRES_${role}_PASSWORD"
done
echo "entrypoint: schema applied to database $POSTGRES_DB, starting the server"
exec postgres -D "$PGDATA" \
    -c listen_addresses='*' \
    -c port="$POSTGRES_PORT" \
    -c unix_socket_directories="$socket" \
    -c timezone=UTC \
    -c max_connections=100
