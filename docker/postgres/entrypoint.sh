#!/bin/bash
# docker-entrypoint style start of PostgreSQL:
#  1. first start: initdb in the data volume (owner role = POSTGRES_ADMIN_USER, scram-sha-256)
#  2. every start, on a private server (Unix socket only, so the health check stays red):
#     create POSTGRES_DB if missing, apply /opt/wikistream/sql/NNN_*.sql in file-name order in one
#     transaction, set the passwords of the admin, writer and reader roles from the environment
#  3. exec the server on TCP.
set -euo pipefail

: "${POSTGRES_DB:?}" "${POSTGRES_ADMIN_PASSWORD:?}" "${POSTGRES_WRITER_PASSWORD:?}" "${POSTGRES_READER_PASSWORD:?}" "${POSTGRES_SEEDER_PASSWORD:?}"
: "${POSTGRES_ADMIN_USER:=wikistream_admin}" "${POSTGRES_PORT:=5432}"
socket=/var/run/postgresql
sql_dir=/opt/wikistream/sql

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_ADMIN_PASSWORD" >"$pwfile"
    initdb -D "$PGDATA" -U "$POSTGRES_ADMIN_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    # Other containers (and the published port) reach the server through the bridge network.
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    echo "entrypoint: initialised $PGDATA"
fi

pg_ctl -D "$PGDATA" -w -s -o "-c listen_addresses='' -c unix_socket_directories=$socket -c port=$POSTGRES_PORT" start
psql_admin() { psql -X -q -v ON_ERROR_STOP=1 -h "$socket" -p "$POSTGRES_PORT" -U "$POSTGRES_ADMIN_USER" "$@"; }

psql_admin -d postgres -v db="$POSTGRES_DB" <<'SQL'
SELECT format('CREATE DATABASE %I', :'db') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')
\gexec
SQL

{
    # Passwords come from the environment (\getenv), never from the command line.
    echo '\getenv admin_pw POSTGRES_ADMIN_PASSWORD'
    echo '\getenv writer_pw POSTGRES_WRITER_PASSWORD'
    echo '\getenv reader_pw POSTGRES_READER_PASSWORD'
    echo '\getenv seeder_pw POSTGRES_SEEDER_PASSWORD'
    echo 'BEGIN;'
    echo "SELECT pg_advisory_xact_lock(hashtext('wikistream-schema'));"
    for file in "$sql_dir"/[0-9][0-9][0-9]_*.sql; do
        echo "\\echo applying $(basename "$file")"
        cat "$file"
        echo
    done
    echo "ALTER ROLE $POSTGRES_ADMIN_USER WITH PASSWORD :'admin_pw';"
    echo "ALTER ROLE wikistream_writer WITH LOGIN PASSWORD :'writer_pw';"
    echo "ALTER ROLE wikistream_reader WITH LOGIN PASSWORD :'reader_pw';"
    echo "ALTER ROLE wikistream_seeder WITH LOGIN PASSWORD :'seeder_pw';"
    echo 'COMMIT;'
} | psql_admin -d "$POSTGRES_DB"

pg_ctl -D "$PGDATA" -w -s -m fast stop
echo "entrypoint: schema applied to database $POSTGRES_DB, starting the server"
exec postgres -D "$PGDATA" \
    -c listen_addresses='*' \
    -c port="$POSTGRES_PORT" \
    -c unix_socket_directories="$socket" \
    -c timezone=UTC \
    -c max_connections=100
