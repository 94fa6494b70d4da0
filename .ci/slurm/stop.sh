#!/usr/bin/env bash
# Stop the one-node SLURM cluster of start.sh by its PID files (and munged).
set -uo pipefail
STATE=/tmp/seqens-slurm
for daemon in slurmd slurmctld; do
    if [ -s "$STATE/$daemon.pid" ]; then
        kill "$(cat "$STATE/$daemon.pid")" 2>/dev/null || true
    fi
done
pkill -x munged 2>/dev/null || true
for _ in $(seq 20); do
    pgrep -x 'slurmd|slurmctld|munged' >/dev/null || exit 0
    sleep 0.5
done
pkill -9 -x 'slurmd|slurmctld|munged' 2>/dev/null || true
