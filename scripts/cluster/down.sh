#!/usr/bin/env bash
# npm run cluster:down: stops the nodes (3, 2, then 1, so node1 is the last and
# may bootstrap the next cluster:up). Idempotent. CLUSTER_PURGE=1 also removes the data.
source "$(dirname "$0")/common.sh"

for n in 3 2 1; do
  pid="$(node_pid "$n" || true)"
  if [ -z "$pid" ]; then say "node$n not running"; continue; fi
  say "node$n: stopping (pid $pid)"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
  kill -0 "$pid" 2>/dev/null && { say "node$n did not stop in 60 s; killing it"; kill -KILL "$pid"; }
done
if [ "${CLUSTER_PURGE:-}" = "1" ]; then rm -rf "$CLUSTER_DIR"; say "removed $CLUSTER_DIR"; fi
say "down"
