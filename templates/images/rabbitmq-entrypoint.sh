#!/bin/sh
# Entrypoint of repo-run's local RabbitMQ image, built from Debian's packages by
# `cargo xtask images`. It honours the official image's interface: RABBITMQ_DEFAULT_USER,
# RABBITMQ_DEFAULT_PASS, data in /var/lib/rabbitmq (the volume's path).
set -eu

home=/var/lib/rabbitmq
mkdir -p "$home" /etc/rabbitmq
chown -R rabbitmq:rabbitmq "$home"
# The default user may log in from other hosts (the published port), unlike Debian's `guest`.
cat > /etc/rabbitmq/rabbitmq.conf <<CONF
loopback_users = none
listeners.tcp.default = 5672
default_user = ${RABBITMQ_DEFAULT_USER:-guest}
default_pass = ${RABBITMQ_DEFAULT_PASS:-guest}
CONF
# The node's name, and with it the data directory, must not depend on the container's
# hostname; the CLI tools (readiness probes run them) read the same file.
echo "NODENAME=rabbit@localhost" > /etc/rabbitmq/rabbitmq-env.conf
exec runuser -u rabbitmq -- env HOME="$home" /usr/lib/rabbitmq/bin/rabbitmq-server "$@"
