#!/usr/bin/env bash
# A private Docker engine for EdgeGuard's tests and benchmarks (see ../shared/docs/test-environment.md).
# It never touches the machine's own Docker: its own containerd and dockerd, each with a socket, state,
# data root and pid file of their own. Tests and benches reach it through DOCKER_HOST only
# (`export DOCKER_HOST=$(bash scripts/docker-env.sh host)`; scripts/test.sh does it).
#   docker-env.sh start    install docker.io if missing (as root), start the private engine unless it answers
#   docker-env.sh stop     stop the private engine (only what this script started)
#   docker-env.sh restart  stop and start it again (a test uses it)
#   docker-env.sh status   say whether the private engine answers
#   docker-env.sh host     print its DOCKER_HOST value
# Idempotent and non-interactive. Network rule: no bridge, no NAT (--bridge=none --iptables=false --ip-masq=false).
set -u

RUN_DIR=${EDGEGUARD_DOCKER_RUN:-/run/edgeguard-test-docker}
DATA_DIR=${EDGEGUARD_DOCKER_DATA:-/var/lib/edgeguard-test-docker}
SOCKET="$RUN_DIR/docker.sock"
CONTAINERD_SOCKET="$RUN_DIR/containerd/containerd.sock"
PIDFILE="$RUN_DIR/dockerd.pid"
CONTAINERD_PIDFILE="$RUN_DIR/containerd.pid"
LOGFILE="$DATA_DIR/dockerd.log"
CONTAINERD_LOG="$DATA_DIR/containerd.log"
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

# pid_of FILE COMM: the pid in FILE when that process is alive and is COMM.
pid_of() {
  [ -f "$1" ] || return 1
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && grep -qx "$2" "/proc/$pid/comm" 2>/dev/null || return 1
  echo "$pid"
}

install_if_missing() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || [ -x /usr/sbin/dockerd ] || missing+=(docker.io)
  command -v containerd >/dev/null 2>&1 || [ -x /usr/bin/containerd ] || missing+=(containerd)
  [ -x /bin/busybox ] && /bin/busybox --list 2>/dev/null | grep -qx sleep && [ "$(dpkg-query -W -f='${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] || missing+=(busybox-static)
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then
    say "missing ${missing[*]} and not root: cannot install (tests needing Docker will skip)"
    return 1
  fi
  say "installing ${missing[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$DATA_DIR/apt.log" 2>&1
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$DATA_DIR/apt.log" 2>&1 || {
    say "apt-get install ${missing[*]} failed, see $DATA_DIR/apt.log"
    return 1
  }
}

wait_for() {
  local deadline=$((SECONDS + WAIT_SECONDS))
  while [ $SECONDS -lt $deadline ]; do
    "$1" && return 0
    ! kill -0 "$2" 2>/dev/null && return 1
    sleep 0.2
  done
  return 1
}

containerd_up() { [ -S "$CONTAINERD_SOCKET" ]; }

# Our own containerd: dockerd would otherwise join a system containerd at /run/containerd when one runs.
start_containerd() {
  pid_of "$CONTAINERD_PIDFILE" containerd >/dev/null && containerd_up && return 0
  local containerd
  containerd=$(command -v containerd || echo /usr/bin/containerd)
  mkdir -p "$RUN_DIR/containerd"
  cat >"$RUN_DIR/containerd.toml" <<EOF
version = 2
root = "$DATA_DIR/containerd"
state = "$RUN_DIR/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CONTAINERD_SOCKET"
[ttrpc]
  address = "$CONTAINERD_SOCKET.ttrpc"
EOF
  rm -f "$CONTAINERD_SOCKET"
  setsid "$containerd" --config "$RUN_DIR/containerd.toml" >>"$CONTAINERD_LOG" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$CONTAINERD_PIDFILE"
  wait_for containerd_up "$pid" || { say "containerd did not start; last log lines:"; tail -n 15 "$CONTAINERD_LOG" >&2; return 1; }
}

start() {
  mkdir -p "$RUN_DIR" "$DATA_DIR"
  chmod 0700 "$RUN_DIR" "$DATA_DIR"
  if ping_daemon; then
    say "private dockerd already running at $SOCKET (pid $(pid_of "$PIDFILE" dockerd || echo '?'))"
    return 0
  fi
  install_if_missing || return 1
  start_containerd || return 1
  local dockerd
  dockerd=$(command -v dockerd || echo /usr/sbin/dockerd)
  # A daemon that died leaves its pid file behind and would refuse to start.
  [ -f "$PIDFILE" ] && ! pid_of "$PIDFILE" dockerd >/dev/null && rm -f "$PIDFILE"
  # A configuration file of its own: the machine's /etc/docker/daemon.json (its hosts, its key) is not ours.
  printf '{ "deprecated-key-path": "%s" }\n' "$DATA_DIR/key.json" >"$RUN_DIR/daemon.json"
  setsid "$dockerd" --config-file "$RUN_DIR/daemon.json" --host "unix://$SOCKET" --data-root "$DATA_DIR/docker" --exec-root "$RUN_DIR/exec" \
    --pidfile "$PIDFILE" --containerd "$CONTAINERD_SOCKET" --containerd-namespace edgeguard-test \
    --containerd-plugins-namespace edgeguard-test-plugins \
    --bridge=none --iptables=false --ip-masq=false --ip6tables=false --storage-driver=overlay2 \
    >>"$LOGFILE" 2>&1 </dev/null &
  local pid=$!
  if wait_for ping_daemon "$pid"; then
    say "private dockerd started (pid $pid, DOCKER_HOST=unix://$SOCKET, log $LOGFILE)"
  else
    say "dockerd did not answer /_ping within ${WAIT_SECONDS}s; last log lines:"
    tail -n 15 "$LOGFILE" >&2
    return 1
  fi
}

# stop_pid FILE COMM: TERM, then KILL after 30 s.
stop_pid() {
  local pid
  pid=$(pid_of "$1" "$2") || { rm -f "$1"; return 1; }
  kill -TERM "$pid" 2>/dev/null
  local deadline=$((SECONDS + 30))
  while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  if kill -0 "$pid" 2>/dev/null; then
    say "$2 (pid $pid) ignored SIGTERM for 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$1"
  say "$2 stopped (pid $pid)"
}

stop() {
  stop_pid "$PIDFILE" dockerd || say "no private dockerd running"
  stop_pid "$CONTAINERD_PIDFILE" containerd || true
  return 0
}

status() {
  if ping_daemon; then
    echo "running (private engine of docker-env.sh at unix://$SOCKET, pid $(pid_of "$PIDFILE" dockerd || echo '?'))"
  else
    echo "not running (unix://$SOCKET)"
    return 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  restart)
    pid_of "$PIDFILE" dockerd >/dev/null || { say "restart: the private dockerd is not running"; exit 1; }
    stop_pid "$PIDFILE" dockerd && start ;;
  status) status ;;
  host) echo "unix://$SOCKET" ;;
  *) echo "usage: $0 start|stop|restart|status|host" >&2; exit 2 ;;
esac
