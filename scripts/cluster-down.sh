#!/usr/bin/env bash
# Stop what scripts/cluster-up.sh started and delete its network namespace.
#
#   scripts/cluster-down.sh
#
# Stops by pid only: the Slurm daemons from their pid files, munged only if
# cluster-up started it, then every process still living in the namespace
# (a Ray head or test process left behind), found by the namespace each pid
# belongs to, never by name. Safe to run when nothing is up.
set -uo pipefail

NS=${EXANTE_NS:-exante-ci}
STATE=${EXANTE_CLUSTER_STATE:-/run/exante-ci}
SLURM_CONF=/etc/slurm/slurm.conf
MARKER="# written by exante scripts/cluster-up.sh"

log() { echo "cluster-down: $*" >&2; }
alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pid_in() { [[ -s "$1" ]] && cat "$1" || true; }

stop_pids() {  # TERM, wait up to 10 s, then KILL
    local pids=("$@") pid
    ((${#pids[@]})) || return 0
    kill -TERM "${pids[@]}" 2>/dev/null
    for _ in $(seq 100); do
        local left=0
        for pid in "${pids[@]}"; do alive "$pid" && left=1; done
        ((left)) || return 0
        sleep 0.1
    done
    kill -KILL "${pids[@]}" 2>/dev/null
}

pids_in_namespace() {
    [[ -e /var/run/netns/$NS ]] || return 0
    local ns_ino pid
    ns_ino=$(stat -L -c %i "/var/run/netns/$NS")
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [[ $pid == "$$" ]] && continue
        [[ $(stat -L -c %i "/proc/$pid/ns/net" 2>/dev/null) == "$ns_ino" ]] && echo "$pid"
    done
}

[[ $(id -u) -eq 0 ]] || { log "must run as root"; exit 1; }

for daemon in slurmd slurmctld; do
    pid=$(pid_in "$STATE/$daemon.pid")
    if alive "$pid"; then
        stop_pids "$pid"
        log "stopped $daemon (pid $pid)"
    fi
done

mapfile -t left < <(pids_in_namespace)
if ((${#left[@]})); then
    log "stopping ${#left[@]} process(es) left in namespace $NS: ${left[*]}"
    stop_pids "${left[@]}"
fi

pid=$(pid_in "$STATE/munged.pid.ours")
if alive "$pid"; then
    stop_pids "$pid"
    log "stopped munged (pid $pid)"
fi
rm -f "$STATE/munged.pid.ours"

if [[ -e /var/run/netns/$NS ]]; then
    ip netns del "$NS" && log "deleted namespace $NS"
fi
if [[ -e $SLURM_CONF ]] && grep -qF "$MARKER" "$SLURM_CONF"; then
    rm -f "$SLURM_CONF"
fi
rm -rf "$STATE"
exit 0
