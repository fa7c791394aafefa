#!/usr/bin/env bash
# npm run cluster:up: a 3-node MariaDB Galera cluster on 127.0.0.1:3311-3313
# (group communication 4561-4563, IST 4571-4573, SST 4581-4583), data under
# $CLUSTER_DIR (default /tmp/integrations-api-galera). Idempotent: running
# nodes are left alone, stopped ones start again. Waits for wsrep_cluster_size=3.
source "$(dirname "$0")/common.sh"

if [ ! -f "$GALERA_LIB" ]; then
  say "galera-4 is missing; installing it with apt-get"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq galera-4 rsync >/dev/null
fi
command -v rsync >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rsync >/dev/null; }
mkdir -p "$CLUSTER_DIR"

running=()
for n in "${NODES[@]}"; do [ -n "$(node_pid "$n" || true)" ] && running+=("$n"); done
if [ ${#running[@]} -eq 0 ]; then
  start_node 1 --wsrep-new-cluster
  wait_ready 1
  # The service and the tests connect over TCP as root without a password, as to the MariaDB on 3306.
  node_sql 1 -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY ''; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;"
fi
# Joiners one at a time: each takes a state transfer from a running node.
for n in "${NODES[@]}"; do
  if [ -z "$(node_pid "$n" || true)" ]; then start_node "$n"; wait_ready "$n"; fi
done
for _ in $(seq 1 60); do
  size="$(cluster_size 1 || true)"
  [ "$size" = "3" ] && break
  sleep 1
done
[ "$size" = "3" ] || { say "cluster size is '$size', not 3"; exit 1; }
say "up: wsrep_cluster_size=3 on 127.0.0.1:3311, 3312, 3313 (mysql://root@127.0.0.1:3311/<db>)"
