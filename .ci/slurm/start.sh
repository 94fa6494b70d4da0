#!/usr/bin/env bash
# Stand up a one-node SLURM cluster on this machine for the SLURM tests (Debian 12 packages,
# Slurm 22.05; needs root). No systemd here, so munged, slurmctld and slurmd are started by
# hand; .ci/slurm/stop.sh takes them down again. Idempotent: when the cluster of an earlier
# call still answers, nothing is touched. Quiet on success; on failure it says what failed and
# prints the log tails.
#
# The node is this host (`hostname -s`) with all its CPUs and 3/4 of its memory, in the
# default partition `debug` (.ci/slurm/profile/config.yaml submits there). No slurmdbd, so
# `sacct` does not work: run the executor with `--slurm-status-command squeue`.
#
# Environment: SEQENS_SLURM_STATE (PID files, logs; default /tmp/seqens-slurm),
# SEQENS_SLURM_WAIT (seconds to wait for the node; default 90).
set -euo pipefail

STATE=${SEQENS_SLURM_STATE:-/tmp/seqens-slurm}
WAIT=${SEQENS_SLURM_WAIT:-90}
PARTITION=debug
PACKAGES=(slurm-wlm slurmctld slurmd slurm-client munge)
CONF=/etc/slurm/slurm.conf
MUNGE_PID=/run/munge/munged.pid

fail() {
    echo "start.sh: $*" >&2
    for log in "$STATE/munged.log" "$STATE/slurmctld.log" "$STATE/slurmd.log"; do
        if [ -s "$log" ]; then
            echo "--- last lines of $log" >&2
            tail -n 25 "$log" >&2
        fi
    done
    exit 1
}

# alive NAME PIDFILE: the PID file names a live process called NAME.
alive() {
    local pid
    [ -s "$2" ] || return 1
    pid=$(cat "$2")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]
}

# The node's state as sinfo reports it: idle, mixed, allocated, or with a suffix (`idle*`:
# not responding) or another state while it is not usable.
node_state() {
    timeout 10 sinfo -h -N -n "$NODE" -o %T 2>/dev/null | head -n 1
}

NODE=$(hostname -s)
mkdir -p "$STATE"

# 1. Packages (about 20 s from Debian's mirror).
if ! command -v munged >/dev/null || ! command -v slurmctld >/dev/null \
    || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"; } \
        >"$STATE/apt.log" 2>&1 || { tail -n 30 "$STATE/apt.log" >&2; fail "apt-get failed (log above)"; }
fi

# 2. Already up (an earlier call)? Then leave everything as it is.
if alive munged "$MUNGE_PID" && alive slurmctld "$STATE/slurmctld.pid" \
    && alive slurmd "$STATE/slurmd.pid" && [[ "$(node_state)" =~ ^(idle|mixed|allocated)$ ]]; then
    exit 0
fi

# 3. munge: the key and the directories belong to the munge user; munged runs as munge.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
chmod 0700 /etc/munge && chmod 0400 /etc/munge/munge.key && chmod 0755 /run/munge
if ! alive munged "$MUNGE_PID"; then
    touch "$STATE/munged.log" && chown munge:munge "$STATE/munged.log"
    runuser -u munge -- /usr/sbin/munged --pid-file="$MUNGE_PID" --log-file="$STATE/munged.log" \
        || fail "munged did not start"
    # stop.sh stops munged only if this script started it.
    touch "$STATE/munged.ours"
fi
timeout 10 bash -c 'munge -n | unmunge' >/dev/null 2>&1 || fail "munge does not work (munge -n | unmunge)"

# 4. slurm.conf: one node (this host, reached over loopback), one default partition. No
# cgroups (linuxproc, task/none) and no accounting; finished jobs stay visible to squeue for
# MinJobAge seconds, which the squeue status command relies on.
CPUS=$(nproc)
MEMORY=$(awk '/^MemTotal:/ {print int($2 / 1024 * 3 / 4)}' /proc/meminfo)
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd
cat >"$CONF.new" <<CONF
# Written by .ci/slurm/start.sh: a one-node CI cluster.
ClusterName=seqens-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
MailProg=/bin/true
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=600
ReturnToService=2
SlurmdTimeout=60
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY State=UNKNOWN
PartitionName=$PARTITION Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
CONF
mv "$CONF.new" "$CONF"

# 5. The daemons (each forks into the background and writes its PID file). slurmctld starts
# from a clean state (-c): no jobs or node states left over from an earlier cluster.
if ! alive slurmctld "$STATE/slurmctld.pid"; then
    slurmctld -c || fail "slurmctld did not start"
fi
if ! alive slurmd "$STATE/slurmd.pid"; then
    slurmd || fail "slurmd did not start"
fi

# 6. Wait (bounded) until the node takes jobs.
deadline=$((SECONDS + WAIT))
until [ "$(node_state)" = idle ]; do
    if ((SECONDS >= deadline)); then
        sinfo >&2 || true
        fail "the node $NODE is not idle after ${WAIT} s"
    fi
    sleep 1
done
