#!/usr/bin/env bash
# The project benchmark: release build, then fake upstream vs proxyd vs the stack floors vs nginx under wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v gcc >/dev/null || need+=(gcc)
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
swift build -c release --product proxyd >&2
swift build -c release --product fake-upstream >&2
# The stack floors, in C: the plainest proxy on evhttp and libcurl (Benchmarks/stack-floor.c), and
# the same on a minimal HTTP/1.1 server over raw libevent events (Benchmarks/stack-floor-raw.c).
gcc -O2 -o .build/release/stack-floor Benchmarks/stack-floor.c $(pkg-config --cflags --libs libevent libcurl) >&2
gcc -O2 -o .build/release/stack-floor-raw Benchmarks/stack-floor-raw.c $(pkg-config --cflags --libs libevent libcurl) >&2
exec python3 scripts/bench.py "$@"
