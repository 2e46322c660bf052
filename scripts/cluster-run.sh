#!/usr/bin/env bash
# Run a command inside the namespace made by scripts/cluster-up.sh, with the
# variables that turn on exante's Ray and Slurm tests.
#
#   scripts/cluster-run.sh /tmp/venv/bin/python -m pytest tests/test_executor_ray.py
#
# EXANTE_RAY=1 / EXANTE_SLURM=1 may be set to 0 beforehand to leave one out
# (for example after `cluster-up.sh --no-slurm`).
set -euo pipefail

NS=${EXANTE_NS:-exante-ci}
[[ -e /var/run/netns/$NS ]] || { echo "cluster-run: no namespace $NS; run scripts/cluster-up.sh first" >&2; exit 1; }
exec nsenter "--net=/var/run/netns/$NS" env \
    EXANTE_NS="$NS" EXANTE_RAY="${EXANTE_RAY:-1}" EXANTE_SLURM="${EXANTE_SLURM:-1}" \
    RAY_USAGE_STATS_ENABLED=0 "$@"
