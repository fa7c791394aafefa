#!/usr/bin/env bash
# scripts/cluster/node.sh kill N | start N | size N: the node-failure drill of the cluster tests.
source "$(dirname "$0")/common.sh"
case "${1:-}" in
  kill) pid="$(node_pid "$2")"; kill -KILL "$pid"; say "node$2 killed (SIGKILL, pid $pid)" ;;
  start) start_node "$2"; wait_ready "$2" 180; say "node$2 back: cluster size $(cluster_size "$2")" ;;
  size) cluster_size "$2" ;;
  *) echo "usage: $0 kill N | start N | size N" >&2; exit 2 ;;
esac
