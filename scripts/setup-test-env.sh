#!/usr/bin/env bash
# Installs and starts the system services Rein's tests use, on Debian, as root (CI) or via sudo.
# Users run the same script before `npm test`. Idempotent: re-running it changes nothing.
#
# What the tests need today: a Node.js with npm to bootstrap (the project then installs its own
# Node 24 from the npm registry), and a Node older than 22 on PATH for the test that checks
# `rein` refuses to start on it (Debian's nodejs, or the machine's Node 20).
# Later issues add services here (bubblewrap, Docker engine, Redis, Prometheus).
set -euo pipefail

need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v git >/dev/null 2>&1 || need+=(git)
if ((${#need[@]})); then
  echo "setup-test-env: installing ${need[*]} from Debian"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
echo "setup-test-env: node $(node --version), npm $(npm --version): ready"
