#!/usr/bin/env bash
# A deployment pipeline in two steps, as a CI system runs them:
#
#   review (on the pull request):  wakame plan  … -o plan.json --detailed-exitcode   → the plan, for people
#   deploy (on merge):             wakame apply plan.json                             → exactly that plan
#
# `apply plan.json` refuses (ERR_PLAN_STALE, exit 1) if the broker changed since the plan was made,
# so what was reviewed is what runs. Usage: deploy.sh <review|deploy> [topology] [plan file]
set -euo pipefail

step=${1:?usage: deploy.sh <review|deploy> [topology.yaml] [plan.json]}
topology=${2:-"$(dirname "$0")/topology.yaml"}
plan=${3:-plan.json}
wakame=${WAKAME:-wakame}   # e.g. WAKAME="pnpm wakame" inside this repository

case $step in
  review)
    # 0: nothing to do, 2: changes (drift included) — both fine for a review; 1 or 64 fail the job.
    rc=0
    $wakame plan "$topology" -o "$plan" --detailed-exitcode || rc=$?
    if [[ $rc -ne 0 && $rc -ne 2 ]]; then exit "$rc"; fi
    echo "plan saved to $plan (changes pending: $([[ $rc -eq 2 ]] && echo yes || echo no))"
    ;;
  deploy)
    # No prompt without a terminal: a saved plan is the approval. --lock-timeout waits for a concurrent deploy.
    $wakame apply "$plan" --lock-timeout 300 --json
    ;;
  *)
    echo "unknown step '$step': use review or deploy" >&2
    exit 64
    ;;
esac
