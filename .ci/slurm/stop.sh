#!/usr/bin/env bash
# Take down the one-node SLURM cluster of .ci/slurm/start.sh: cancel its jobs, then stop
# slurmd, slurmctld and (if start.sh started it) munged by their PID files. Idempotent and
# quiet: nothing to stop is fine. Exits non-zero only if a daemon survives SIGKILL.
# Environment: SEQENS_SLURM_STATE as for start.sh.
set -euo pipefail

STATE=${SEQENS_SLURM_STATE:-/tmp/seqens-slurm}
MUNGE_PID=/run/munge/munged.pid

# pid_of NAME PIDFILE: the PID in PIDFILE if that process is alive and called NAME.
pid_of() {
    local pid
    [ -s "$2" ] || return 1
    pid=$(cat "$2")
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ] && echo "$pid"
}

# stop NAME PIDFILE: SIGTERM, up to 15 s to exit, then SIGKILL.
stop() {
    local pid
    if pid=$(pid_of "$1" "$2"); then
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 30); do
            [ -d "/proc/$pid" ] || break
            sleep 0.5
        done
        if [ -d "/proc/$pid" ]; then
            kill -KILL "$pid" 2>/dev/null || true
            sleep 1
        fi
        if [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$1" ]; then
            echo "stop.sh: $1 ($pid) is still running" >&2
            return 1
        fi
    fi
    rm -f "$2"
}

# Jobs first, while slurmctld still answers: no job steps outlive the cluster.
active_jobs() {
    timeout 10 squeue -h -t PENDING,RUNNING,CONFIGURING,COMPLETING,SUSPENDED -o %i 2>/dev/null || true
}
if pid_of slurmctld "$STATE/slurmctld.pid" >/dev/null; then
    jobs=$(active_jobs)
    if [ -n "$jobs" ]; then
        # shellcheck disable=SC2086  # one argument per job id
        timeout 10 scancel --full $jobs 2>/dev/null || true
        for _ in $(seq 20); do
            [ -z "$(active_jobs)" ] && break
            sleep 0.5
        done
    fi
fi

status=0
stop slurmd "$STATE/slurmd.pid" || status=1
stop slurmctld "$STATE/slurmctld.pid" || status=1
if [ -e "$STATE/munged.ours" ]; then
    stop munged "$MUNGE_PID" || status=1
    rm -f "$STATE/munged.ours"
fi
exit "$status"
