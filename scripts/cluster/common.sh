# Shared by up.sh, down.sh and node.sh: where the 3-node Galera cluster of the
# cluster tests lives and how to reach one node. Loopback only; nothing here
# touches the MariaDB on 127.0.0.1:3306 (other port, socket, data directory).
set -euo pipefail

CLUSTER_DIR="${CLUSTER_DIR:-/tmp/integrations-api-galera}"
NODES=(1 2 3)
GALERA_LIB=/usr/lib/galera/libgalera_smm.so

sql_port() { echo $((3310 + $1)); }
galera_port() { echo $((4560 + $1)); }
node_dir() { echo "$CLUSTER_DIR/node$1"; }
say() { printf '[cluster] %s\n' "$*"; }

# As root through the node's socket (root@localhost authenticates by unix socket).
node_sql() { local n=$1; shift; mariadb --no-defaults -uroot --socket="$(node_dir "$n")/mysqld.sock" -N -B "$@"; }

node_pid() { local f; f="$(node_dir "$1")/mariadbd.pid"; [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && cat "$f"; }

node_ready() { [ "$(node_sql "$1" -e "SHOW STATUS LIKE 'wsrep_ready'" 2>/dev/null | cut -f2)" = "ON" ]; }

cluster_size() { node_sql "$1" -e "SHOW STATUS LIKE 'wsrep_cluster_size'" 2>/dev/null | cut -f2; }

write_config() {
  local n=$1 dir gp addresses
  dir="$(node_dir "$n")"; gp="$(galera_port "$n")"
  addresses="$(for m in "${NODES[@]}"; do printf '127.0.0.1:%s,' "$(galera_port "$m")"; done)"
  cat >"$dir/my.cnf" <<CNF
[mariadbd]
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mariadbd.pid
log-error=$dir/error.log
port=$(sql_port "$n")
bind-address=127.0.0.1
skip-name-resolve
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_log_file_size=32M
max_connections=300
wsrep_on=ON
wsrep_provider=$GALERA_LIB
wsrep_cluster_name=integrations_api_test
wsrep_cluster_address=gcomm://${addresses%,}
wsrep_node_name=node$n
wsrep_node_address=127.0.0.1:$gp
wsrep_provider_options="base_host=127.0.0.1;base_port=$gp;gmcast.listen_addr=tcp://127.0.0.1:$gp;ist.recv_addr=127.0.0.1:$((gp + 10));gcache.size=64M;evs.keepalive_period=PT0.5S;evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S"
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((gp + 20))
wsrep_slave_threads=2
# Causal reads: a read waits until this node has applied every write the cluster committed before it, so a
# write acknowledged through one instance reads back through any other (Galera applies asynchronously otherwise).
wsrep_sync_wait=1
CNF
}

# Starts node n in the background as the mysql user (rsync state transfer runs as the server's user).
start_node() {
  local n=$1 bootstrap=${2:-} dir
  dir="$(node_dir "$n")"
  if [ -n "$(node_pid "$n" || true)" ]; then say "node$n already running (port $(sql_port "$n"))"; return; fi
  mkdir -p "$dir/data"
  write_config "$n"
  if [ ! -d "$dir/data/mysql" ]; then
    say "node$n: initialising its data directory"
    mariadb-install-db --defaults-file="$dir/my.cnf" --user=mysql --auth-root-authentication-method=socket >"$dir/install.log" 2>&1
  fi
  chown -R mysql:mysql "$dir"
  local position=""
  if [ -f "$dir/data/grastate.dat" ] && grep -q '^seqno: *-1' "$dir/data/grastate.dat"; then
    # It crashed: recover its last committed position from InnoDB (what galera_recovery does under systemd),
    # so it rejoins by IST from the others' gcache instead of a full SST that blocks the donor.
    mariadbd --defaults-file="$dir/my.cnf" --user=mysql --wsrep-recover --log-error="$dir/recover.log" >/dev/null 2>&1 || true
    position="$(grep -o 'Recovered position: .*' "$dir/recover.log" | tail -n 1 | sed 's/Recovered position: //')"
    rm -f "$dir/recover.log"
    [ -n "$position" ] && say "node$n: recovered position $position"
  fi
  if [ -n "$bootstrap" ]; then
    # A test cluster: the node bootstrapping it may do so even if it was not the last to stop.
    [ -f "$dir/data/grastate.dat" ] && sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$dir/data/grastate.dat"
    say "node$n: bootstrapping a new cluster on port $(sql_port "$n")"
  else
    say "node$n: joining on port $(sql_port "$n")"
  fi
  setsid mariadbd --defaults-file="$dir/my.cnf" --user=mysql $bootstrap ${position:+--wsrep_start_position=$position} </dev/null >>"$dir/console.log" 2>&1 &
}

wait_ready() {
  local n=$1 timeout=${2:-120}
  for _ in $(seq 1 "$timeout"); do
    if node_ready "$n"; then return 0; fi
    if [ -z "$(node_pid "$n" || true)" ] && [ $SECONDS -gt 5 ] && ! pgrep -f "$(node_dir "$n")/my.cnf" >/dev/null; then
      say "node$n stopped; last lines of $(node_dir "$n")/error.log:"; tail -n 20 "$(node_dir "$n")/error.log" >&2; return 1
    fi
    sleep 1
  done
  say "node$n not ready after ${timeout} s; see $(node_dir "$n")/error.log"; return 1
}
