#!/bin/sh
# Entrypoint of repo-run's local PostgreSQL image, built from Debian's packages by
# `cargo xtask images`. It honours the official image's interface: POSTGRES_USER,
# POSTGRES_PASSWORD, POSTGRES_DB and PGDATA (the volume's path).
set -eu

bin=/usr/lib/postgresql/15/bin
PGDATA="${PGDATA:-/var/lib/postgresql/data}"
POSTGRES_USER="${POSTGRES_USER:-postgres}"
POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"
export PGDATA

# initdb and postgres refuse to run as root: prepare the directories, then drop privileges.
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    chown -R postgres:postgres "$PGDATA" /var/run/postgresql
    chmod 700 "$PGDATA"
    exec runuser -u postgres -- "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "error: POSTGRES_PASSWORD must be set to initialise the database" >&2
        exit 1
    fi
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$pwfile"
    # A minbase root has no locales: without these flags the cluster would be SQL_ASCII.
    "$bin/initdb" -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        -E UTF8 --locale=C.UTF-8 --auth-local=trust --auth-host=scram-sha-256
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    # A temporary server on the Unix socket only, so TCP readiness probes wait for the real one.
    "$bin/pg_ctl" -D "$PGDATA" -o "-c listen_addresses=''" -w start
    if [ "$POSTGRES_DB" != postgres ]; then
        "$bin/psql" -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d postgres \
            -c "CREATE DATABASE \"$POSTGRES_DB\""
    fi
    "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop
fi

exec "$bin/postgres" -D "$PGDATA" -c listen_addresses='*' "$@"
