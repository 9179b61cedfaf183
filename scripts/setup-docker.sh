#!/usr/bin/env bash
# Makes a Docker engine answer for Rein's docker and gvisor sandboxes, on Debian, as root (CI) or via sudo.
# Idempotent: re-running it on a ready machine installs, writes and starts nothing.
#
#   1. installs docker.io (the engine) and runsc (gVisor's runtime) from Debian when they are missing;
#   2. registers runsc as a Docker runtime named "runsc" in /etc/docker/daemon.json (merged, not replaced);
#   3. starts dockerd in the background when no engine answers (machines without systemd, like CI),
#      logging to /var/log/rein-dockerd.log, and waits for its socket.
#
# An engine that already answers (Docker Desktop, a systemd service) is used as it is; only the runsc
# registration is added, and the running engine is told to reload its configuration (SIGHUP).
set -euo pipefail

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
LOG=${REIN_DOCKERD_LOG:-/var/log/rein-dockerd.log}
DAEMON_JSON=/etc/docker/daemon.json

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

# gVisor before 2024 refuses statx with AT_NO_AUTOMOUNT (EINVAL), which coreutils passes: `ls`, `stat`
# and `cp` fail inside. Debian 12's runsc is from 2022-12; bookworm-backports has 2024-07, which works.
RUNSC_MIN=20240729
runsc_date() { runsc --version 2>/dev/null | grep -oE '[0-9]{8}' | head -n1; }

install_debs() {
  # Without systemd, docker.io's postinst would start the engine through its init script; this script
  # starts it itself (below), so service starts are refused during the install (policy-rc.d exit 101).
  local added_policy="" status=0
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
    --no-install-recommends "$@" >/dev/null || status=$?
  [[ -n $added_policy ]] && $SUDO rm -f /usr/sbin/policy-rc.d
  return "$status"
}

need=()
command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
command -v python3 >/dev/null 2>&1 || need+=(python3)
runsc_old=""
have=$(runsc_date || true)
[[ -z $have || $have -lt $RUNSC_MIN ]] && runsc_old=1
if ((${#need[@]})) || [[ -n $runsc_old ]]; then
  $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
fi
if ((${#need[@]})); then
  echo "setup-docker: installing ${need[*]} from Debian"
  install_debs "${need[@]}"
fi
if [[ -n $runsc_old ]]; then
  . /etc/os-release
  candidate=$(apt-cache policy runsc | awk '/Candidate:/ { print $2 }' | grep -oE '[0-9]{8}' || true)
  if [[ -n $candidate && $candidate -ge $RUNSC_MIN ]]; then
    echo "setup-docker: installing runsc ($candidate) from Debian"
    install_debs runsc
  else
    backports="${VERSION_CODENAME}-backports"
    if ! apt-get indextargets --format '$(RELEASE)' | grep -qx "$backports"; then
      mirror=$(apt-get indextargets --format '$(SITE) $(RELEASE)' |
        awk -v s="$VERSION_CODENAME" '$2 == s { print $1; exit }')
      echo "setup-docker: adding Debian $backports ($mirror) for runsc"
      printf 'Types: deb\nURIs: %s\nSuites: %s\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$mirror" "$backports" | $SUDO tee /etc/apt/sources.list.d/rein-backports.sources >/dev/null
      $SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
    fi
    echo "setup-docker: installing runsc from $backports"
    install_debs -t "$backports" runsc
  fi
fi

# Register runsc as a runtime. The JSON is merged so that an existing configuration keeps its keys.
RUNSC=$(command -v runsc)
$SUDO mkdir -p /etc/docker
changed=$($SUDO python3 - "$DAEMON_JSON" "$RUNSC" <<'PY'
import json, os, sys
path, runsc = sys.argv[1], sys.argv[2]
conf = {}
if os.path.exists(path) and os.path.getsize(path) > 0:
    with open(path) as f:
        conf = json.load(f)
# runsc up to at least 2024-07 decides it is in the host's network namespace when
# /proc/sys/net/core/rmem_default exists, which it does in every namespace on recent kernels ("cannot run
# with network enabled in root network namespace"). Rein's sandboxes have no network anyway: gVisor's own
# network is switched off (its netstack keeps only loopback). --oci-seccomp: the container's seccomp
# profile (Rein's deny list) is enforced inside gVisor too, on top of gVisor's own filter of the sentry.
want = {"path": runsc, "runtimeArgs": ["--network=none", "--oci-seccomp"]}
have = conf.get("runtimes", {}).get("runsc")
if have == want:
    print("no")
elif have is not None and have.get("path") != runsc:
    print("foreign")
else:
    conf.setdefault("runtimes", {})["runsc"] = want
    tmp = path + ".rein-tmp"
    with open(tmp, "w") as f:
        json.dump(conf, f, indent=2)
        f.write("\n")
    os.replace(tmp, path)
    print("yes")
PY
)
[[ $changed == yes ]] && echo "setup-docker: registered runsc ($RUNSC --network=none --oci-seccomp) in $DAEMON_JSON"
[[ $changed == foreign ]] && echo "setup-docker: $DAEMON_JSON already names another runsc; left as it is"

if engine_answers; then
  if [[ $changed == yes ]]; then
    # dockerd reloads "runtimes" on SIGHUP; wait until the engine lists the new runtime.
    pid=$($SUDO cat /var/run/docker.pid 2>/dev/null || true)
    if [[ -n $pid ]]; then $SUDO kill -HUP "$pid"; else echo "setup-docker: restart your engine to load runsc" >&2; fi
    for _ in $(seq 1 50); do
      docker info --format '{{json .Runtimes}}' 2>/dev/null | grep -q '"runsc"' && break
      sleep 0.2
    done
  fi
else
  echo "setup-docker: no Docker engine answers; starting dockerd (log: $LOG)"
  # setsid + nohup: the engine outlives this script (it is the machine's service from now on).
  $SUDO bash -c "setsid nohup dockerd >>'$LOG' 2>&1 </dev/null &"
  for _ in $(seq 1 300); do
    engine_answers && break
    sleep 0.2
  done
  if ! engine_answers; then
    echo "setup-docker: dockerd did not answer within 60 s; the end of $LOG:" >&2
    $SUDO tail -n 30 "$LOG" >&2 || true
    exit 1
  fi
fi

runtimes=$(docker info --format '{{range $name, $_ := .Runtimes}}{{$name}} {{end}}')
echo "setup-docker: engine $(docker version --format '{{.Server.Version}}') answers; runtimes: $runtimes"
