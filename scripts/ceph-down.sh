#!/usr/bin/env bash
# Stop the Ceph test cluster started by scripts/ceph-up.sh DIR and remove DIR.
# Idempotent: a missing DIR or already-stopped daemons are not an error.
# Only processes whose pid file lives in DIR/run and whose command line
# names DIR/ceph.conf are signalled.  Set KEEP_DIR=1 to keep DIR (logs).
set -euo pipefail

MARKER=.gsnap-ceph-cluster
die() { echo "ceph-down: ERROR: $*" >&2; exit 1; }
log() { echo "ceph-down: $*" >&2; }

[ $# -eq 1 ] && [ -n "$1" ] || die "usage: $0 DIR"
if [ ! -e "$1" ]; then
  log "$1 does not exist; nothing to do"
  exit 0
fi
DIR=$(cd "$1" && pwd -P)
[ -e "$DIR/$MARKER" ] || die "$DIR was not created by ceph-up.sh (no $MARKER); not touching it"
CONF=$DIR/ceph.conf

ours() { # pid -> true if it is a Ceph process of this cluster
  local comm cmd
  { read -r comm <"/proc/$1/comm"; } 2>/dev/null || return 1
  case "$comm" in
    ceph-mon|ceph-mgr|ceph-osd|radosgw|radosgw-admin|ceph) ;;
    *) return 1 ;;
  esac
  cmd=$(tr '\0' ' ' <"/proc/$1/cmdline")
  [[ "$cmd" == *" $CONF"* ]]
}

# The cluster is thrown away, so there is nothing to flush: SIGKILL straight
# away (on SIGTERM the memstore OSD would first dump its whole store to disk,
# and ceph-mgr's python modules sometimes take >10 s to stop).
# Candidates: the daemons' pid files, plus any ceph process whose command
# line names DIR/ceph.conf (catches a daemon killed mid-start by ceph-up).
pids=()
for pid in $(cat "$DIR"/run/*.pid 2>/dev/null) $(ls /proc | grep -E '^[0-9]+$'); do
  [ "$pid" != $$ ] || continue
  if ours "$pid"; then
    case " ${pids[*]} " in *" $pid "*) continue ;; esac
    kill -KILL "$pid" 2>/dev/null || true
    pids+=("$pid")
  fi
done
for pid in "${pids[@]}"; do
  for _ in $(seq 1 50); do ours "$pid" || break; sleep 0.1; done
  ours "$pid" && die "pid $pid still running after SIGKILL"
done
log "stopped ${#pids[@]} daemon(s)"

if [ "${KEEP_DIR:-0}" = 1 ]; then
  log "keeping $DIR"
else
  rm -rf -- "$DIR"
  log "removed $DIR"
fi
