#!/usr/bin/env bash
# run.sh - `make bench`: offline decode rate, then weir collect beside nfacctd/nfcapd live.
# Prints figures (medians and ratios); it is not a test. Sends only to 127.0.0.1.
# Knobs: BUILD (default build), BENCH_RATES (250k,500k,1M,2M,4M,max), BENCH_REPS (3),
# BENCH_SECS (2), BENCH_COLLECTORS (weir,nfacctd,nfcapd,sink), BENCH_JSON (results file).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}

make --no-print-directory BUILD="$BUILD" "$BUILD/weir" "$BUILD/bench/decode_bench" \
	"$BUILD/bench/udp_sink" >/dev/null

echo "== machine"
echo "cpu: $(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
echo "kernel: $(uname -r); $(. /etc/os-release && echo "$PRETTY_NAME")"
echo "weir: $("$BUILD/weir" --version)"
for t in nfacctd nfcapd; do
	p=$(command -v $t || true)
	[ -z "$p" ] && [ -x /usr/sbin/$t ] && p=/usr/sbin/$t
	if [ -n "$p" ]; then
		echo "$t: $("$p" -V 2>&1 | grep -m1 -iE 'version|nfacctd [0-9]')"
	else
		echo "$t: not installed (scripts/deps.sh test installs it)"
	fi
done
echo "socket buffer: 4 MiB for every collector (net.core.rmem_max $(cat /proc/sys/net/core/rmem_max))"

echo
echo "== offline decode: gen's datagrams from memory, one core, median of 7 passes"
"$BUILD/bench/decode_bench" -k 10000

echo
echo "== live: weir gen (IPFIX, 21 records/datagram, 10k keys) -> 127.0.0.1, medians"
args=(--weir "$BUILD/weir" --sink "$BUILD/bench/udp_sink"
	--rates "${BENCH_RATES:-250k,500k,1M,2M,4M,max}" --reps "${BENCH_REPS:-3}"
	--secs "${BENCH_SECS:-2}" --collectors "${BENCH_COLLECTORS:-weir,nfacctd,nfcapd,sink}")
[ -n "${BENCH_JSON:-}" ] && args+=(--json "$BENCH_JSON")
/usr/bin/python3 bench/live.py "${args[@]}"

echo
echo "== memory: weir collect RSS while 50 exporters stream records"
/usr/bin/python3 bench/memory.py --weir "$BUILD/weir"

echo
echo "== relay: datagrams/s to 1 pool of 4 receivers (hash-agent): weir relay, nfacctd tee, bare loop"
make --no-print-directory BUILD="$BUILD" "$BUILD/bench/relay_bench" >/dev/null
/usr/bin/python3 bench/relay_bench.py --weir "$BUILD/weir" --tool "$BUILD/bench/relay_bench" \
	--reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-2}"
