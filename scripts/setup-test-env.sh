#!/usr/bin/env bash
# Installs and starts the system services Rein's tests use, on Debian, as root (CI) or via sudo.
# Users run the same script before `npm test`. Idempotent: re-running it changes nothing.
#
# What the tests need today: a Node.js with npm to bootstrap (the project then installs its own
# Node 24 from the npm registry), and a Node older than 22 on PATH for the test that checks
# `rein` refuses to start on it (Debian's nodejs, or the machine's Node 20).
# The sandbox (issue 16) needs bubblewrap, util-linux's setpriv/prlimit/unshare and mount (to drop from
# root, set rlimits and stage the workspace), python3 inside the sandbox for run_code and the escape
# suite's syscall probes, and libseccomp's scmp_sys_resolver (package "seccomp") to check the seccomp
# filter's syscall tables.
# tmux drives the terminal approval gate test. Later issues add services here (Redis, Prometheus).
set -euo pipefail
cd "$(dirname "$0")/.."

# What Rein itself needs to run (the sandbox's packages); npm ci is the README test command's own step.
REIN_SETUP_SKIP_NPM=1 bash scripts/setup.sh

need=()
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v git >/dev/null 2>&1 || need+=(git)
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v setpriv >/dev/null 2>&1 || need+=(util-linux)
command -v mount >/dev/null 2>&1 || need+=(mount)
# socat relays the sandbox's loopback proxy port to the egress proxy's Unix socket (tests/security/egress).
command -v socat >/dev/null 2>&1 || need+=(socat)
command -v scmp_sys_resolver >/dev/null 2>&1 || need+=(seccomp)
[[ -x /usr/bin/python3 ]] || need+=(python3)
[[ -x /usr/bin/awk ]] || need+=(mawk)
# tmux drives `rein run`'s terminal approval prompt in a real pseudo-terminal (tests/cli/terminal-gate.test.ts).
command -v tmux >/dev/null 2>&1 || need+=(tmux)
# Debian's chromium: tests/evals/reports.test.ts opens the HTML eval report in it (puppeteer-core, no browser download).
[[ -x /usr/bin/chromium ]] || need+=(chromium)
# Prometheus (server and promtool) checks and tests prometheus/rein-alerts.yml and scrapes a running Rein
# (tests/telemetry/prometheus-*.test.ts). Tests start their own server on loopback; the service is not used.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# zsh and fish run the scripts of `rein completion zsh|fish` (tests/cli/cli-behaviour.test.ts).
command -v zsh >/dev/null 2>&1 || need+=(zsh)
command -v fish >/dev/null 2>&1 || need+=(fish)
if ((${#need[@]})); then
  echo "setup-test-env: installing ${need[*]} from Debian"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}"
fi
# The docker and gvisor sandboxes' tests (contract, escape suite, pool): a Docker engine with runsc
# registered, and the rein-sandbox:1 image built locally (nothing is pulled). ~6 minutes the first time.
bash scripts/setup-docker.sh
bash scripts/build-sandbox-image.sh
# The Redis store's tests (tests/state/redis-*.test.ts): redis-server from Debian, answering on 127.0.0.1:6379.
bash scripts/setup-redis.sh
echo "setup-test-env: node $(node --version), npm $(npm --version), $(bwrap --version): ready"
