#!/usr/bin/env bash
# A private 3-node RabbitMQ cluster on 127.0.0.1 for the `cluster` test project and scripts/clusters/measure-failover.ts.
#
# It runs beside the machine's own RabbitMQ (5672) and beside a developer's manual cluster (5681-5683) without
# touching either: own node names, Erlang cookie, HOME, config, plugins file, data and log folders, and own ports.
#
#   rabbitmq-cluster.sh start          boot wkt1..wkt3@localhost and cluster them (a few minutes on 2 cores);
#                                      reuses a cluster of ours that already runs whole, else starts from empty state
#   rabbitmq-cluster.sh stop           stop the three nodes (a node that does not stop in time is killed)
#   rabbitmq-cluster.sh node N         (re)boot node wktN keeping its data, e.g. after `kill N`; waits until it runs
#   rabbitmq-cluster.sh ctl N ARGS...  rabbitmqctl against wktN (stop_app, start_app, cluster_status, ...)
#   rabbitmq-cluster.sh kill N         kill -9 the Erlang VM of wktN (a crash, not a shutdown)
#   rabbitmq-cluster.sh status         exit 0 when all three nodes run as one cluster
#
# Node N: AMQP 127.0.0.1:569N, management 1569N, Erlang distribution 2569N.
# State lives in $WAKAME_CLUSTER_DIR/rabbitmq (default $TMPDIR/wakame-clusters/rabbitmq).
set -euo pipefail

STATE=${WAKAME_CLUSTER_DIR:-${TMPDIR:-/tmp}/wakame-clusters}/rabbitmq
# Debian's /usr/sbin wrappers switch to the rabbitmq user and its HOME; the scripts behind them run as us.
RBIN=${WAKAME_RABBITMQ_BIN:-/usr/lib/rabbitmq/bin}
BOOT_WAIT_S=${WAKAME_RABBITMQ_BOOT_WAIT_S:-300}
NODES=(1 2 3)

log() { printf '[rabbitmq-cluster] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

[[ -x $RBIN/rabbitmq-server && -x $RBIN/rabbitmqctl ]] || die "RabbitMQ scripts not found in $RBIN (apt-get install rabbitmq-server)"

# The CLI tools find the Erlang cookie in $HOME; a HOME of our own keeps our cookie away from every other node's.
export HOME=$STATE/home
# An empty env file, so the system rabbitmq-env.conf (which names the system node and its flags) is not read.
export RABBITMQ_CONF_ENV_FILE=$STATE/empty-env.conf
# A VM that cannot start (e.g. a CLI call before the state exists) writes erl_crash.dump to its working
# directory, which is the caller's checkout: keep it in the state dir instead.
export ERL_CRASH_DUMP=$STATE/erl_crash.dump

node_name() { printf 'wkt%s@localhost' "$1"; }

check_index() {
  [[ ${1:-} =~ ^[123]$ ]] || die "node index must be 1, 2 or 3, got '${1:-}'"
}

prepare_state() {
  mkdir -p "$HOME" "$STATE/mnesia" "$STATE/log"
  if [[ ! -f $HOME/.erlang.cookie ]]; then
    # A random cookie per state dir: nothing outside this folder can talk to these nodes by accident.
    od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$HOME/.erlang.cookie"
    chmod 400 "$HOME/.erlang.cookie"
  fi
  : >"$STATE/empty-env.conf"
  echo '[rabbitmq_management].' >"$STATE/enabled_plugins"
}

ctl() {
  local n=$1
  shift
  "$RBIN/rabbitmqctl" -n "$(node_name "$n")" "$@"
}

# A CLI call against a node that is half up can hang; every probe is bounded.
ping_node() { timeout 20 "$RBIN/rabbitmqctl" -n "$(node_name "$1")" -q ping >/dev/null 2>&1; }

beam_pid_file() { printf '%s/wkt%s.beam.pid' "$STATE" "$1"; }

write_config() {
  local n=$1
  cat >"$STATE/wkt$n.conf" <<CONF
listeners.tcp.1 = 127.0.0.1:569$n
management.tcp.port = 1569$n
management.tcp.ip = 127.0.0.1
loopback_users = none
# Leader and node fields in the management API come from its statistics; refresh them often.
collect_statistics_interval = 1000
CONF
}

# boot_node N: starts the VM of node N in the background and returns at once; wait_booted waits for it.
boot_node() {
  local n=$1
  write_config "$n"
  (
    export RABBITMQ_NODENAME
    RABBITMQ_NODENAME=$(node_name "$n")
    export RABBITMQ_CONFIG_FILE=$STATE/wkt$n.conf
    export RABBITMQ_ENABLED_PLUGINS_FILE=$STATE/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$STATE/mnesia
    export RABBITMQ_LOG_BASE=$STATE/log
    export RABBITMQ_DIST_PORT=2569$n
    export ERL_EPMD_ADDRESS=127.0.0.1
    # Loopback only; and no busy-waiting schedulers: several VMs share two cores here, and spinning schedulers
    # would steal the CPU the test process needs.
    export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} +sbwt none +sbwtdcpu none +sbwtdio none"
    # 9>&-: the node must not inherit the start/stop lock, or it would hold it for as long as it runs.
    nohup "$RBIN/rabbitmq-server" >"$STATE/log/wkt$n.stdout" 2>&1 9>&- &
  )
}

dump_log() {
  local n=$1 f
  for f in "$STATE/log/wkt$n.stdout" "$STATE/log/$(node_name "$n").log"; do
    [[ -f $f ]] || continue
    log "--- last lines of $f ---"
    tail -n 25 "$f" >&2 || true
  done
}

wait_booted() {
  local n=$1 tries=$((BOOT_WAIT_S / 2)) i
  # await_startup fails at once while the node is not yet registered with epmd: ping first, in a bounded loop.
  for ((i = 0; i < tries; i++)); do
    ping_node "$n" && break
    sleep 2
  done
  if ((i == tries)); then
    dump_log "$n"
    die "node $(node_name "$n") did not answer ping within ${BOOT_WAIT_S}s"
  fi
  if ! timeout $((BOOT_WAIT_S + 30)) "$RBIN/rabbitmqctl" -n "$(node_name "$n")" -q await_startup --timeout "$BOOT_WAIT_S" >/dev/null; then
    dump_log "$n"
    die "node $(node_name "$n") answered ping but its RabbitMQ application did not finish booting within ${BOOT_WAIT_S}s"
  fi
  # The VM's own pid (rabbitmq-server is a wrapper shell around it), for `kill N`.
  timeout 20 "$RBIN/rabbitmqctl" -n "$(node_name "$n")" -q eval 'list_to_integer(os:getpid()).' >"$(beam_pid_file "$n")"
}

running_count() {
  # cluster_status as JSON lists running_nodes; count ours.
  timeout 30 "$RBIN/rabbitmqctl" -n "$(node_name "$1")" -q cluster_status --formatter json 2>/dev/null |
    grep -o '"running_nodes":\[[^]]*\]' | grep -o 'wkt[123]@localhost' | sort -u | wc -l
}

cluster_whole() {
  local n
  for n in "${NODES[@]}"; do
    [[ $(running_count "$n" 2>/dev/null) == 3 ]] || return 1
  done
}

kill_node() {
  local n=$1 pid_file pid
  pid_file=$(beam_pid_file "$n")
  [[ -s $pid_file ]] || die "no pid recorded for $(node_name "$n") ($pid_file); was it started by this script?"
  pid=$(<"$pid_file")
  [[ $pid =~ ^[0-9]+$ ]] || die "bad pid '$pid' in $pid_file"
  # Only a VM that is really this node's: the pid may have been reused since. RabbitMQ names its node at boot
  # from RABBITMQ_NODENAME (it is not on the VM's command line), so the environment tells.
  if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qx "RABBITMQ_NODENAME=$(node_name "$n")"; then
    kill -9 "$pid"
    local i
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    kill -0 "$pid" 2>/dev/null && die "$(node_name "$n") (pid $pid) still alive 10s after kill -9"
    log "killed $(node_name "$n") (pid $pid)"
  else
    log "$(node_name "$n") is not running (pid $pid is gone or another process)"
  fi
}

stop_node() {
  local n=$1
  if ping_node "$n"; then
    timeout 60 "$RBIN/rabbitmqctl" -n "$(node_name "$n")" -q stop >/dev/null 2>&1 && return 0
    log "$(node_name "$n") did not stop within 60s; killing it"
  fi
  [[ -s $(beam_pid_file "$n") ]] && kill_node "$n"
  return 0
}

start_cluster() {
  prepare_state
  if cluster_whole; then
    log 'cluster already running: wkt1..wkt3@localhost'
    return 0
  fi
  local n
  # Leftovers of an earlier, broken run: stop them and start from empty state, which boots fastest and never
  # waits for mnesia tables of a node that is gone.
  for n in "${NODES[@]}"; do stop_node "$n"; done
  rm -rf "$STATE/mnesia" "$STATE/log"
  mkdir -p "$STATE/mnesia" "$STATE/log"
  local started=$SECONDS
  # The three VMs boot in parallel; joining is cheap once they run.
  for n in "${NODES[@]}"; do boot_node "$n"; done
  for n in "${NODES[@]}"; do wait_booted "$n"; done
  log "3 nodes booted after $((SECONDS - started))s; clustering"
  for n in 2 3; do
    ctl "$n" -q stop_app >/dev/null
    ctl "$n" -q join_cluster "$(node_name 1)" >/dev/null || die "$(node_name "$n") could not join $(node_name 1)"
    ctl "$n" -q start_app >/dev/null
  done
  local i
  for ((i = 0; i < 60; i++)); do
    cluster_whole && break
    sleep 2
  done
  ((i < 60)) || die 'the three nodes never reported each other as running (cluster_status)'
  log "cluster wkt1..wkt3@localhost running after $((SECONDS - started))s (AMQP 5691-5693, management 15691-15693)"
}

# Starting and stopping rebuild shared state: two test runs on one machine must take turns, not interleave.
lock() {
  mkdir -p "$STATE"
  exec 9>"$STATE/lock"
  flock -w 600 9 || die "another rabbitmq-cluster.sh start/stop held $STATE/lock for 10 minutes"
}

case "${1:-}" in
start)
  lock
  start_cluster
  ;;
stop)
  lock
  prepare_state
  for n in 3 2 1; do stop_node "$n"; done
  ;;
node)
  check_index "${2:-}"
  prepare_state
  if ping_node "$2"; then
    ctl "$2" -q start_app >/dev/null
  else
    boot_node "$2"
  fi
  wait_booted "$2"
  ;;
ctl)
  check_index "${2:-}"
  n=$2
  shift 2
  ctl "$n" "$@"
  ;;
kill)
  check_index "${2:-}"
  kill_node "$2"
  ;;
status)
  # No cookie, no node of ours: say so without starting a CLI VM that has nowhere to put its cookie.
  [[ -f $HOME/.erlang.cookie ]] || exit 1
  cluster_whole
  ;;
*)
  echo "usage: $0 start|stop|status|node N|ctl N ARGS...|kill N" >&2
  exit 2
  ;;
esac
