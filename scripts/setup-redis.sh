#!/usr/bin/env bash
# Makes a Redis answer on loopback for Rein's Redis store tests, on Debian, as root (CI) or via sudo.
# Idempotent: re-running it on a ready machine installs, writes and starts nothing.
#
#   1. installs the Debian package redis-server when redis-server is missing (apt-get update once);
#   2. when nothing answers PING on 127.0.0.1:$REIN_REDIS_PORT (default 6379), starts a redis-server
#      there, daemonized, bound to loopback only, without persistence (no RDB, no AOF: test data);
#
# Tests connect to redis://127.0.0.1:6379/0, or to REIN_TEST_REDIS_URL when it is set.
# A Redis that already answers on the port (a system service, a container) is used as it is.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
PORT=${REIN_REDIS_PORT:-6379}
LOG=${REIN_REDIS_LOG:-/tmp/rein-redis-$PORT.log}

if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
  echo "setup-redis: installing redis-server from Debian"
  # The package's postinst may try to start its own service; without systemd that fails harmlessly,
  # and this script starts the server itself below.
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends redis-server >/dev/null
fi

answers() { [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$PORT" ping 2>/dev/null) == PONG ]]; }

if ! answers; then
  echo "setup-redis: starting redis-server on 127.0.0.1:$PORT (no persistence, log $LOG)"
  redis-server --bind 127.0.0.1 --port "$PORT" --protected-mode yes --daemonize yes \
    --save '' --appendonly no --logfile "$LOG" --dir /tmp --pidfile "/tmp/rein-redis-$PORT.pid"
  for _ in $(seq 1 100); do
    answers && break
    sleep 0.1
  done
  if ! answers; then
    echo "setup-redis: redis-server did not answer on 127.0.0.1:$PORT; see $LOG" >&2
    exit 1
  fi
fi
echo "setup-redis: $(redis-server --version | cut -d' ' -f1-3) answers at redis://127.0.0.1:$PORT/0"
