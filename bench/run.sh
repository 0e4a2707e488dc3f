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

# --- sFlow and packet capture (issue 2) ---
traffic=../shared/corpus/source/traffic_public.pcap
make --no-print-directory BUILD="$BUILD" "$BUILD/bench/sflow_bench" >/dev/null
echo
echo "== sFlow offline decode and pcap metering: one core, from memory, median of 7"
if [ -f "$traffic" ]; then
	"$BUILD/bench/sflow_bench" "$traffic"
else
	"$BUILD/bench/sflow_bench"
	echo "pcap metering: $traffic not found, left out"
fi
echo
echo "== sFlow live: weir gen -P sflow (11 samples/datagram) -> weir collect and sfacctd, medians"
sargs=(--weir "$BUILD/weir" --rates "${BENCH_SFLOW_RATES:-250k,500k,1M,2M,max}"
	--reps "${BENCH_REPS:-3}" --secs "${BENCH_SECS:-2}")
if [ -f "$traffic" ]; then
	/usr/bin/python3 bench/sflow_live.py "${sargs[@]}" --pcap "$traffic"
	echo "(pcap metering: the corpus traffic pcap x 100, flat out, weir collect beside pmacctd)"
else
	/usr/bin/python3 bench/sflow_live.py "${sargs[@]}" --pcap /dev/null --part live
fi

echo
echo "== aggregation: 5-tuple flows into one worker table, 1 k .. 10 M keys, one core"
make --no-print-directory BUILD="$BUILD" "$BUILD/bench/agg_bench" >/dev/null
"$BUILD/bench/agg_bench"
echo
echo "== aggregation live: weir gen -> weir collect (5-tuple, 1 and 2 workers) and nfacctd (5-tuple)"
/usr/bin/python3 bench/agg_live.py --weir "$BUILD/weir" --rates "${BENCH_AGG_RATES:-250k,500k,1M,2M,4M,max}" \
	--reps "${BENCH_REPS:-2}" --secs "${BENCH_SECS:-2}"

# --- SQL storage (issue 4) ---
echo
echo "== SQL: rows/s of a 100 k-key bin per backend (sqlite3, MariaDB, PostgreSQL), weir beside nfacctd's SQL plugins"
make --no-print-directory BUILD="$BUILD" "$BUILD/bench/sql_bench" >/dev/null
/usr/bin/python3 bench/sql_live.py --weir "$BUILD/weir" --tool "$BUILD/bench/sql_bench" \
	--backends "${BENCH_SQL_BACKENDS:-sqlite3,mysql,pgsql}"
