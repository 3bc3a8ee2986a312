#!/usr/bin/env bash
# A local Docker engine for EdgeGuard's tests and benchmarks (see ../shared/docs/test-environment.md).
#   docker-env.sh start    install docker.io if missing (as root), start dockerd unless one answers, wait for /_ping
#   docker-env.sh stop     stop dockerd, only if this script started it
#   docker-env.sh restart  stop and start again the dockerd this script started (tests use it)
#   docker-env.sh status   say whether a daemon answers and who started it
# Idempotent and non-interactive. Network rule: no bridge, no NAT (--bridge=none --iptables=false --ip-masq=false).
set -u

SOCKET=/var/run/docker.sock
STATE_DIR=${EDGEGUARD_DOCKER_STATE:-/tmp/edgeguard-docker}
PIDFILE="$STATE_DIR/dockerd.pid"
LOGFILE="$STATE_DIR/dockerd.log"
WAIT_SECONDS=${EDGEGUARD_DOCKER_WAIT:-60}

say() { echo "docker-env: $*" >&2; }

ping_daemon() {
  [ -S "$SOCKET" ] || return 1
  if command -v curl >/dev/null 2>&1; then
    [ "$(curl -s --max-time 2 --unix-socket "$SOCKET" http://localhost/_ping 2>/dev/null)" = "OK" ]
  else
    node -e '
      const req = require("http").get({ socketPath: process.argv[1], path: "/_ping", timeout: 2000 }, (res) => process.exit(res.statusCode === 200 ? 0 : 1));
      req.on("error", () => process.exit(1)); req.on("timeout", () => process.exit(1));' "$SOCKET"
  fi
}

our_pid() {
  [ -f "$PIDFILE" ] || return 1
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -q dockerd "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

install_if_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sleep && [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing ${missing[*]} and not root: cannot install (tests needing Docker will skip)"
    return 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$STATE_DIR/apt.log" 2>&1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$STATE_DIR/apt.log" 2>&1 || {
    say "apt-get install ${missing[*]} failed, see $STATE_DIR/apt.log"
    return 1
  }
}

wait_for_ping() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    ping_daemon && return 0
    [ -n "${1:-}" ] && ! kill -0 "$1" 2>/dev/null && return 1
    sleep 0.2
  done
  return 1
}

start() {
  mkdir -p "$STATE_DIR"
  if ping_daemon; then
    our_pid >/dev/null && say "dockerd already running (started by this script, pid $(our_pid))" || say "dockerd already running (not ours: left alone)"
    return 0
  fi
  install_if_missing || return 1
  local dockerd
  dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
  # A daemon that died leaves its pid file behind and would refuse to start.
  [ -f /var/run/docker.pid ] && ! kill -0 "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null && rm -f /var/run/docker.pid
  setsid "$dockerd" --bridge=none --iptables=false --ip-masq=false --storage-driver=overlay2 >>"$LOGFILE" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$PIDFILE"
  if wait_for_ping "$pid"; then
    say "dockerd started (pid $pid, log $LOGFILE)"
  else
    say "dockerd did not answer /_ping within ${WAIT_SECONDS}s; last log lines:"
    tail -n 15 "$LOGFILE" >&2
    return 1
  fi
}

stop() {
  local pid
  if ! pid=$(our_pid); then
    rm -f "$PIDFILE"
    say "no dockerd started by this script: nothing to stop"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "dockerd (pid $pid) ignored SIGTERM for 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$PIDFILE"
  say "dockerd stopped (pid $pid)"
}

status() {
  if ping_daemon; then
    if our_pid >/dev/null; then echo "running (started by docker-env.sh, pid $(our_pid))"; else echo "running (not started by docker-env.sh)"; fi
  else
    echo "not running"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart)
    our_pid >/dev/null || { say "restart: the running dockerd was not started by this script"; exit 1; }
    stop && start ;;
  status) status ;;
  *) echo "usage: $0 start|stop|restart|status" >&2; exit 2 ;;
esac
