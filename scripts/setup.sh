#!/usr/bin/env bash
# Sets Rein up on Debian for running it: the system packages its default sandbox needs, then `npm ci`
# (which brings the project's own Node 24 from the npm registry and builds). As root, or via sudo.
# Idempotent: re-running it installs nothing new.
#
#   bubblewrap   the default sandbox for run_shell / run_code (namespaces, seccomp)
#   util-linux   setpriv, prlimit, unshare: drop from root, set rlimits
#   mount        stage the workspace for the sandbox's unprivileged user
#   socat        the forwarder inside a sandbox whose network goes through the egress proxy
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v mount >/dev/null 2>&1 || need+=(mount)
command -v socat >/dev/null 2>&1 || need+=(socat)
if ((${#need[@]})); then
  echo "setup: installing ${need[*]} from Debian"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
if [[ "${REIN_SETUP_SKIP_NPM:-}" != 1 ]]; then
  npm ci --no-audit --no-fund
fi
echo "setup: $(bwrap --version), node_modules ready"
