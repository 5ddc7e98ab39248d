#!/bin/sh
# Entrypoint of repo-run's local MariaDB image, built from Debian's packages by
# `cargo xtask images`. It honours the official image's interface: MARIADB_ROOT_PASSWORD,
# MARIADB_USER, MARIADB_PASSWORD, MARIADB_DATABASE (or their MYSQL_* names), data in
# /var/lib/mysql (the volume's path).
set -eu

datadir=/var/lib/mysql
root_password="${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}"
user="${MARIADB_USER:-${MYSQL_USER:-}}"
password="${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}"
database="${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}"

mkdir -p "$datadir" /run/mysqld
chown -R mysql:mysql "$datadir" /run/mysqld

if [ ! -d "$datadir/mysql" ]; then
    if [ -z "$root_password" ]; then
        echo "error: MARIADB_ROOT_PASSWORD must be set to initialise the database" >&2
        exit 1
    fi
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
        --auth-root-authentication-method=normal > /dev/null
    # A temporary server without networking, so TCP readiness probes wait for the real one.
    socket=/run/mysqld/init.sock
    mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" &
    pid=$!
    tries=0
    until mariadb-admin --socket="$socket" -uroot ping > /dev/null 2>&1; do
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ]; then
            echo "error: the temporary server did not start" >&2
            exit 1
        fi
        sleep 1
    done
    {
        echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_password';"
        echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_password';"
        echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
        if [ -n "$database" ]; then
            echo "CREATE DATABASE IF NOT EXISTS \`$database\`;"
        fi
        if [ -n "$user" ]; then
            echo "CREATE USER '$user'@'%' IDENTIFIED BY '$password';"
            if [ -n "$database" ]; then
                echo "GRANT ALL ON \`$database\`.* TO '$user'@'%';"
            fi
        fi
    } | mariadb --socket="$socket" -uroot
    mariadb-admin --socket="$socket" -uroot -p"$root_password" shutdown
    wait "$pid" || true
fi

exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 "$@"
