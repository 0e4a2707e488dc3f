#!/usr/bin/env bash
# run-fuzz.sh SECONDS BIN... - replays tests/regress/<target>/ and the seed corpus of each
# libFuzzer target, then fuzzes it for SECONDS. Crashes land in build/fuzz/crash-*.
set -u
secs=$1; shift
fail=0
for b in "$@"; do
	t=$(basename "$b")
	seeds=tests/fuzz/seeds/${t#fuzz_}
	regress=tests/regress/${t#fuzz_}
	work=build/fuzz/corpus-${t#fuzz_}
	mkdir -p "$work"
	dirs=("$work")
	[ -d "$seeds" ] && dirs+=("$seeds")
	if [ -d "$regress" ] && [ -n "$(ls -A "$regress")" ]; then
		"$b" -runs=0 "$regress"/* >/dev/null 2>&1 || { echo "fuzz $t: regress input fails"; fail=1; }
	fi
	if "$b" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix=build/fuzz/ "${dirs[@]}" >build/fuzz/$t.log 2>&1; then
		echo "fuzz $t: ok ($(grep -o 'Done [0-9]* runs in [0-9]* second' build/fuzz/$t.log | tail -1))"
	else
		echo "fuzz $t: FAILED, see build/fuzz/$t.log"; tail -30 build/fuzz/$t.log; fail=1
	fi
done
exit $fail
