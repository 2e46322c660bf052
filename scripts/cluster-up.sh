#!/usr/bin/env bash
# Start a private one-node Slurm for exante's cluster tests, reachable only
# inside a network namespace this script makes (see shared/recipes/).
#
#   scripts/cluster-up.sh [--install] [--no-slurm]
#
#   --install   apt-get install slurm-wlm and munge first (needs apt; about a minute)
#   --no-slurm  only make the namespace (enough for the Ray tests, whose head
#               is started and stopped by tests/conftest_cluster.py)
#
# Idempotent: running it again keeps what is already up. Everything it starts
# is recorded in $EXANTE_CLUSTER_STATE; scripts/cluster-down.sh stops exactly
# that. Run tests inside the namespace with scripts/cluster-run.sh.
#
# Why a namespace: slurmctld/slurmd (and a Ray head) bind the machine's outside
# address when started plainly; inside the namespace the only addresses are
# loopback and a veth pair that exists nowhere else. `nsenter --net` is used
# rather than `ip netns exec`, which remounts /sys and leaves slurmd without a
# cgroup hierarchy.
set -euo pipefail

NS=${EXANTE_NS:-exante-ci}
STATE=${EXANTE_CLUSTER_STATE:-/run/exante-ci}
NS_ADDR=${EXANTE_NS_ADDR:-10.77.0.1/24}
SLURM_CONF=/etc/slurm/slurm.conf
MARKER="# written by exante scripts/cluster-up.sh"
N=(nsenter "--net=/var/run/netns/$NS")

install=0
slurm=1
for arg in "$@"; do
    case "$arg" in
        --install) install=1 ;;
        --no-slurm) slurm=0 ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "cluster-up: unknown option $arg" >&2; exit 2 ;;
    esac
done

log() { echo "cluster-up: $*" >&2; }
die() { log "$*"; exit 1; }
alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
pid_in() { [[ -s "$1" ]] && cat "$1" || true; }

[[ $(id -u) -eq 0 ]] || die "must run as root (network namespaces, munge, slurm daemons)"
mkdir -p "$STATE"

if (( install )); then
    if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
        log "installing slurm-wlm and munge"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
    fi
fi

# ------------------------------------------------------------ namespace
if [[ ! -e /var/run/netns/$NS ]]; then
    ip netns add "$NS"
    log "made network namespace $NS"
fi
"${N[@]}" ip link set lo up
if ! "${N[@]}" ip link show v0 >/dev/null 2>&1; then
    # without a non-loopback address getaddrinfo refuses even 127.0.0.1 in here
    "${N[@]}" ip link add v0 type veth peer name v1
    "${N[@]}" ip addr add "$NS_ADDR" dev v0
fi
"${N[@]}" ip link set v0 up
"${N[@]}" ip link set v1 up
echo "$NS" >"$STATE/namespace"

(( slurm )) || { log "namespace $NS ready (no Slurm asked for)"; exit 0; }

for tool in munged slurmctld slurmd sinfo; do
    command -v "$tool" >/dev/null || die "$tool not found; run with --install (apt-get install slurm-wlm munge)"
done

# ------------------------------------------------------------ slurm.conf
host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
if [[ -e $SLURM_CONF ]] && ! grep -qF "$MARKER" "$SLURM_CONF"; then
    die "$SLURM_CONF exists and was not written by this script; not touching it"
fi
mkdir -p /etc/slurm "$STATE/slurmctld" "$STATE/slurmd"
cat >"$SLURM_CONF.new" <<EOF
$MARKER; scripts/cluster-down.sh removes it
ClusterName=exante-ci
SlurmctldHost=$host(127.0.0.1)
NodeName=$host NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmUser=root
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SlurmdSpoolDir=$STATE/slurmd
StateSaveLocation=$STATE/slurmctld
# fast turnaround for tests: 2 s between SIGTERM and SIGKILL; a requeued
# (preempted) job may start again after 5 s instead of 121, and the main
# scheduler looks at pending jobs every 2 s instead of 60; finished jobs
# stay visible to squeue for 10 minutes (there is no accounting database)
KillWait=2
AuthInfo=cred_expire=5
SchedulerParameters=sched_interval=2
MinJobAge=600
EOF
changed=0
cmp -s "$SLURM_CONF.new" "$SLURM_CONF" || changed=1
mv "$SLURM_CONF.new" "$SLURM_CONF"

# ------------------------------------------------------------ munge (unix socket only)
mkdir -p /run/munge
chown munge:munge /run/munge 2>/dev/null || true
munge_pid=$(pid_in /run/munge/munged.pid)
if ! alive "$munge_pid"; then
    runuser -u munge -- munged --force 2>/dev/null || munged --force
    for _ in $(seq 50); do munge_pid=$(pid_in /run/munge/munged.pid); alive "$munge_pid" && break; sleep 0.1; done
    alive "$munge_pid" || die "munged did not start"
    echo "$munge_pid" >"$STATE/munged.pid.ours"
    log "started munged (pid $munge_pid)"
fi

# ------------------------------------------------------------ slurm daemons
if (( changed )); then  # a new slurm.conf: daemons running on the old one start again
    for daemon in slurmd slurmctld; do
        pid=$(pid_in "$STATE/$daemon.pid")
        if alive "$pid"; then
            kill "$pid"
            for _ in $(seq 100); do alive "$pid" || break; sleep 0.1; done
            log "stopped $daemon (pid $pid) to load the new slurm.conf"
        fi
    done
fi
if ! alive "$(pid_in "$STATE/slurmctld.pid")"; then
    "${N[@]}" slurmctld -c   # -c: start from a clean state, no jobs of an earlier run
    log "started slurmctld"
fi
if ! alive "$(pid_in "$STATE/slurmd.pid")"; then
    "${N[@]}" slurmd
    log "started slurmd"
fi

for _ in $(seq 120); do
    state=$("${N[@]}" sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [[ $state == idle* ]] && { log "node $host is idle; Slurm is up in namespace $NS"; exit 0; }
    sleep 0.5
done
log "node $host did not become idle (state: ${state:-none}); see $STATE/slurmctld.log and $STATE/slurmd.log"
exit 1
