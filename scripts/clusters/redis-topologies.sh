#!/usr/bin/env bash
# Private Redis topologies on 127.0.0.1 for the `cluster` test project, beside (never touching) the machine's Redis
# on 6379 and a developer's manual topologies (7001-7006, 6390/6391/26390).
#
#   redis-topologies.sh cluster       Redis Cluster of 6 nodes on 7101-7106: 3 masters + 3 replicas
#   redis-topologies.sh sentinel      master 6395, replica 6396, sentinel 26395 watching master name "wkmaster"
#                                     (quorum 1, down-after 2000 ms)
#   redis-topologies.sh stop          shut down every node above that is running
#   redis-topologies.sh stop-cluster  shut down the Redis Cluster only (stop-sentinel: the Sentinel group only)
#   redis-topologies.sh kill PORT     kill -9 the node on PORT (one of ours only)
#   redis-topologies.sh restart PORT  start the node on PORT again with its previous configuration
#
# State lives in $WAKAME_CLUSTER_DIR/redis (default $TMPDIR/wakame-clusters/redis); nothing is persisted to disk.
set -euo pipefail

STATE=${WAKAME_CLUSTER_DIR:-${TMPDIR:-/tmp}/wakame-clusters}/redis
CLUSTER_PORTS=(7101 7102 7103 7104 7105 7106)
MASTER_PORT=6395
REPLICA_PORT=6396
SENTINEL_PORT=26395
MASTER_NAME=wkmaster
ALL_PORTS=("$SENTINEL_PORT" "$REPLICA_PORT" "$MASTER_PORT" "${CLUSTER_PORTS[@]}")
WAIT_TRIES=${WAKAME_REDIS_WAIT_TRIES:-100} # × 0.2 s

log() { printf '[redis-topologies] %s\n' "$*" >&2; }
die() {
  log "ERROR: $*"
  exit 1
}

command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
  die 'redis-server and redis-cli are needed (apt-get install redis-server)'

cli() {
  local port=$1
  shift
  timeout 10 redis-cli -h 127.0.0.1 -p "$port" "$@"
}

is_ours() {
  local port=$1 p
  for p in "${ALL_PORTS[@]}"; do [[ $p == "$port" ]] && return 0; done
  return 1
}

# wait_for <description> <command...>: bounded retry, failing with the name of what never became ready.
wait_for() {
  local what=$1 i
  shift
  for ((i = 0; i < WAIT_TRIES; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  die "timed out after $((WAIT_TRIES / 5))s waiting for ${what}"
}

pong() { [[ $(cli "$1" ping 2>/dev/null) == PONG ]]; }

# The command line of each node is kept in its folder, so `restart PORT` brings it back exactly as it was.
start_node() {
  local port=$1
  shift
  local dir=$STATE/n$port
  mkdir -p "$dir"
  printf '%q ' redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no --daemonize yes \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" "$@" >"$dir/cmdline"
  restart_node "$port"
}

restart_node() {
  local port=$1 dir=$STATE/n$1
  [[ -f $dir/cmdline ]] || die "node $port was never started by this script (no $dir/cmdline)"
  if pong "$port"; then
    log "node $port already answers"
    return 0
  fi
  bash -c "$(<"$dir/cmdline")" || die "redis-server on port $port did not start (see $dir/redis.log)"
  wait_for "redis on port $port" pong "$port"
}

kill_node() {
  local port=$1 pid_file pid
  is_ours "$port" || die "port $port is not one of this script's nodes"
  pid_file=$STATE/n$port/redis.pid
  [[ -s $pid_file ]] || die "no pid file for node $port ($pid_file)"
  pid=$(<"$pid_file")
  # The pid may belong to another process by now: only kill a redis-server listening on our port.
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ":$port"; then
    kill -9 "$pid"
    wait_for "node $port (pid $pid) to die" bash -c "! kill -0 $pid"
    log "killed node $port (pid $pid)"
  else
    log "node $port is not running"
  fi
}

cluster_ok() { cli "${CLUSTER_PORTS[0]}" cluster info | grep -q '^cluster_state:ok'; }

start_cluster() {
  if cluster_ok 2>/dev/null; then
    log "cluster already running on ${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]}"
    return 0
  fi
  local port
  for port in "${CLUSTER_PORTS[@]}"; do
    # A stale nodes.conf would make the node remember an earlier cluster: start from empty state.
    if ! pong "$port"; then rm -rf "$STATE/n$port"; fi
    # A low node timeout makes replicas take over within a few seconds of a master's death.
    start_node "$port" --cluster-enabled yes --cluster-config-file "$STATE/n$port/nodes.conf" \
      --cluster-node-timeout 2000
  done
  local addresses=()
  for port in "${CLUSTER_PORTS[@]}"; do addresses+=("127.0.0.1:$port"); done
  timeout 60 redis-cli --cluster create "${addresses[@]}" --cluster-replicas 1 --cluster-yes >"$STATE/cluster-create.log" 2>&1 ||
    die "redis-cli --cluster create failed (see $STATE/cluster-create.log): $(tail -n 3 "$STATE/cluster-create.log")"
  wait_for 'cluster_state:ok on every node' all_nodes_ok
  log "cluster running on ${CLUSTER_PORTS[0]}-${CLUSTER_PORTS[-1]} (3 masters, 3 replicas)"
}

all_nodes_ok() {
  local port
  for port in "${CLUSTER_PORTS[@]}"; do cli "$port" cluster info | grep -q '^cluster_state:ok' || return 1; done
}

sentinel_knows_replica() {
  [[ $(cli "$SENTINEL_PORT" sentinel replicas "$MASTER_NAME" 2>/dev/null | grep -c "^$REPLICA_PORT\$") -ge 1 ]]
}

start_sentinel() {
  start_node "$MASTER_PORT"
  start_node "$REPLICA_PORT" --replicaof 127.0.0.1 "$MASTER_PORT"
  wait_for "replica $REPLICA_PORT in sync with $MASTER_PORT" \
    bash -c "timeout 5 redis-cli -p $REPLICA_PORT info replication | grep -q '^master_link_status:up'"
  local dir=$STATE/n$SENTINEL_PORT
  mkdir -p "$dir"
  # Sentinel rewrites its config file at run time, so it gets one of its own on every start.
  cat >"$dir/sentinel.conf" <<CONF
port $SENTINEL_PORT
bind 127.0.0.1
daemonize yes
pidfile $dir/redis.pid
logfile $dir/redis.log
dir $dir
sentinel monitor $MASTER_NAME 127.0.0.1 $MASTER_PORT 1
sentinel down-after-milliseconds $MASTER_NAME 2000
sentinel failover-timeout $MASTER_NAME 10000
sentinel parallel-syncs $MASTER_NAME 1
CONF
  if ! pong "$SENTINEL_PORT"; then
    printf '%q ' redis-server "$dir/sentinel.conf" --sentinel >"$dir/cmdline"
    restart_node "$SENTINEL_PORT"
  fi
  wait_for "sentinel $SENTINEL_PORT to know master $MASTER_NAME" \
    bash -c "timeout 5 redis-cli -p $SENTINEL_PORT sentinel get-master-addr-by-name $MASTER_NAME | grep -q ."
  wait_for "sentinel $SENTINEL_PORT to discover replica $REPLICA_PORT" sentinel_knows_replica
  log "sentinel $SENTINEL_PORT watching $MASTER_NAME (master $MASTER_PORT, replica $REPLICA_PORT)"
}

stop_ports() {
  local port
  for port in "$@"; do
    if pong "$port"; then cli "$port" shutdown nosave >/dev/null 2>&1 || true; fi
  done
}

case "${1:-}" in
cluster) start_cluster ;;
sentinel) start_sentinel ;;
stop) stop_ports "${ALL_PORTS[@]}" ;;
stop-cluster) stop_ports "${CLUSTER_PORTS[@]}" ;;
stop-sentinel) stop_ports "$SENTINEL_PORT" "$REPLICA_PORT" "$MASTER_PORT" ;;
kill)
  [[ ${2:-} =~ ^[0-9]+$ ]] || die 'usage: kill PORT'
  kill_node "$2"
  ;;
restart)
  [[ ${2:-} =~ ^[0-9]+$ ]] || die 'usage: restart PORT'
  is_ours "$2" || die "port $2 is not one of this script's nodes"
  restart_node "$2"
  ;;
*)
  echo "usage: $0 cluster|sentinel|stop|stop-cluster|stop-sentinel|kill PORT|restart PORT" >&2
  exit 2
  ;;
esac
