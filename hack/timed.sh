#!/usr/bin/env bash
# Run a command and record how long it took: hack/timed.sh NAME CMD...
# Appends "NAME SECONDS STATUS" to $HX_TIMINGS (default tests/output/timings.txt).
set -uo pipefail
name=$1; shift
file=${HX_TIMINGS:-tests/output/timings.txt}
mkdir -p "$(dirname "$file")"
start=$(date +%s)
"$@"
rc=$?
printf '%-14s %6ss  %s\n' "$name" "$(( $(date +%s) - start ))" "$([ $rc -eq 0 ] && echo ok || echo "FAILED ($rc)")" >> "$file"
exit $rc
