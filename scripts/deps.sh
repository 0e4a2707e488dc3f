#!/usr/bin/env bash
# deps.sh build|test - installs the Debian packages weir needs that `dpkg -s` says are absent.
# build: what `make` and `make run` need; test: also the test tools and real peers.
set -euo pipefail

build_pkgs=(gcc make pkg-config libc6-dev libpcap-dev libmicrohttpd-dev libcurl4-openssl-dev zlib1g-dev
	libjansson-dev libsqlite3-dev libmariadb-dev libpq-dev)
test_pkgs=(clang libclang-rt-14-dev libcmocka-dev python3 python3-pytest clang-format
	softflowd pmacct nfdump tshark iproute2 influxdb influxdb-client prometheus mariadb-server postgresql sqlite3)

want=("${build_pkgs[@]}")
[ "${1:-build}" = test ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
