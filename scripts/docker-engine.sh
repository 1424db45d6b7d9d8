#!/usr/bin/env bash
# Make a Docker engine available on this machine (idempotent, non-interactive).
#
#   1. if `docker info` already works: exit 0, nothing else is touched;
#   2. if dockerd (or the docker CLI) is missing: apt-get install docker.io (root only);
#   3. start dockerd detached (log: /tmp/dockerd.log, or $DOCKERD_LOG) unless one is
#      already starting, then wait up to $DOCKERD_WAIT seconds (default 60) for `docker info`.
#
# Exit 0 when the engine answers, 1 otherwise (with the tail of the dockerd log).
set -euo pipefail

LOG="${DOCKERD_LOG:-/tmp/dockerd.log}"
WAIT="${DOCKERD_WAIT:-60}"

say() { printf 'docker-engine: %s\n' "$*" >&2; }
die() { say "ERROR: $*"; exit 1; }

engine_up() { command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; }

if engine_up; then
  exit 0
fi

# Serialize concurrent runs (two CI steps at once must not start two daemons).
LOCK="${TMPDIR:-/tmp}/docker-engine.lock"
if command -v flock >/dev/null 2>&1 && { exec 9>>"$LOCK"; } 2>/dev/null; then
  flock -w $((WAIT + 600)) 9 || die "could not take the lock $LOCK"
  engine_up && exit 0
fi

is_root() { [ "$(id -u)" -eq 0 ]; }

if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
  is_root || die "Docker is not installed and this script is not root; run it as root (or: sudo apt-get install docker.io)"
  command -v apt-get >/dev/null 2>&1 || die "Docker is not installed and apt-get is not available to install it"
  say "installing docker.io with apt-get ..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >/dev/null || die "apt-get update failed"
  apt-get install -y -qq -o Dpkg::Use-Pty=0 --no-install-recommends docker.io </dev/null >/dev/null \
    || die "apt-get install docker.io failed"
  command -v dockerd >/dev/null 2>&1 || die "docker.io installed but dockerd is not on PATH"
fi

# A dockerd that is alive but not answering yet (e.g. still starting): wait for it
# instead of starting a second one, which would fail on the pid file / socket.
alive() {  # pid is a live process (a zombie, e.g. a killed daemon nobody reaped, is not)
  local state
  state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

running_dockerd() {  # pid of a live dockerd process, if any (no procps needed)
  local f p
  for f in /proc/[0-9]*/comm; do
    [ "$(cat "$f" 2>/dev/null)" = dockerd ] || continue
    p=${f#/proc/}; p=${p%/comm}
    if alive "$p"; then echo "$p"; return 0; fi
  done
  return 1
}

if pid=$(running_dockerd); then
  say "dockerd (pid $pid) is running but not answering yet; waiting"
else
  is_root || die "the Docker engine is not running and this script is not root; start dockerd as root (or add this user to the docker group if it is running)"
  # Pid files left by a killed daemon make dockerd refuse to start ("pid file found")
  # or wait for a containerd that is gone, when their pid is still a zombie (no init
  # reaping it in some sandboxes) or reused. No live dockerd exists here, so they are stale.
  for pf in /var/run/docker.pid /var/run/docker/containerd/containerd.pid; do
    if [ -f "$pf" ]; then
      old_pid=$(cat "$pf" 2>/dev/null || true)
      if [ -z "$old_pid" ] || ! alive "$old_pid" || [ "$pf" = /var/run/docker.pid ]; then
        rm -f "$pf"
      fi
    fi
  done
  say "starting dockerd (log: $LOG)"
  # setsid + nohup + no stdin: the daemon is in its own session and outlives this script
  # (and the CI step that ran it); it must not inherit the lock (fd 9).
  setsid nohup dockerd >"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!
fi

start=$SECONDS
next_note=$((start + 5))
while :; do
  if err=$(docker info 2>&1 >/dev/null); then
    say "engine is up after $((SECONDS - start)) s"
    exit 0
  fi
  case "$err" in
    *"permission denied"*)
      die "dockerd is running but this user ($(id -un)) may not use its socket: run as root or join the docker group (${err##*$'\n'})" ;;
  esac
  if ! alive "$pid"; then
    say "ERROR: dockerd (pid $pid) exited; last lines of $LOG:"
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    exit 1
  fi
  if [ $((SECONDS - start)) -ge "$WAIT" ]; then
    say "ERROR: engine did not answer within $WAIT s; last lines of $LOG:"
    tail -n 20 "$LOG" >&2 2>/dev/null || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$next_note" ]; then
    say "waiting for dockerd ... $((SECONDS - start)) s"
    next_note=$((SECONDS + 5))
  fi
  sleep 0.5
done
