#!/usr/bin/env bash
# run-unit.sh BIN... - runs cmocka test binaries; prints and returns the totals.
# Writes "passed failed" to $UNIT_COUNTS when set (scripts/test.sh reads it).
set -u
pass=0 fail=0
for b in "$@"; do
	out=$("$b" 2>&1); rc=$?
	printf '%s\n' "$out"
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	# A binary that crashed before printing a summary counts as one failure.
	[ $rc -ne 0 ] && [ "$f" -eq 0 ] && f=1
	pass=$((pass + p)); fail=$((fail + f))
done
echo "unit: $pass passed, $fail failed"
[ -n "${UNIT_COUNTS:-}" ] && echo "$pass $fail" > "$UNIT_COUNTS"
[ $fail -eq 0 ]
