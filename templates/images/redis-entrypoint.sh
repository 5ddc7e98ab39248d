#!/bin/sh
# Entrypoint of repo-run's local Redis image, built from Debian's packages by
# `cargo xtask images`. Like the official image: reachable from outside the container
# without protected mode, data in /data (the volume's path), saved on shutdown.
set -eu

if [ "$(id -u)" = 0 ]; then
    mkdir -p /data
    chown redis:redis /data
    exec runuser -u redis -- "$0" "$@"
fi

exec redis-server --bind 0.0.0.0 --protected-mode no --dir /data --daemonize no "$@"
