#!/usr/bin/env bash
# Fuzzes HTTPRequestParser with libFuzzer for a bounded time: builds Fuzz/HTTPRequestParserFuzz.swift
# together with every ProxyCore source file (one module, so the target sees ProxyCore's internal
# names) with the toolchain's fuzzer and address sanitizers, then runs it on a fresh copy of
# Fuzz/corpus. Exits non-zero when it finds an input that trips an invariant, crashes, hangs or
# runs out of memory, and prints that input.
#
#   scripts/fuzz.sh [SECONDS]     (default 60; the build comes on top)
#
# Re-run a reproducer:  .build/fuzz/http-request-parser-fuzz <file>
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a whole number, not '$seconds'" >&2; exit 2; }

swiftc=$(command -v swiftc || true)
[ -n "$swiftc" ] || swiftc=/opt/swift/usr/bin/swiftc
[ -x "$swiftc" ] || { echo "fuzz: swiftc not found (on PATH or at /opt/swift/usr/bin)" >&2; exit 1; }

out=.build/fuzz
binary="$out/http-request-parser-fuzz"
mkdir -p "$out"
mapfile -t sources < <(find Sources/ProxyCore -name '*.swift' | LC_ALL=C sort)
sources+=(Fuzz/HTTPRequestParserFuzz.swift)

# Rebuild only when a source is newer than the binary (CI's fresh clone always builds).
if [ ! -x "$binary" ] || [ -n "$(find "${sources[@]}" -newer "$binary" -print -quit)" ]; then
  echo "fuzz: building $binary from ${#sources[@]} files" >&2
  start=$(date +%s)
  # gold warns once per ASan helper symbol it cannot export; those lines say nothing useful.
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -module-name ProxyCoreFuzz -j "$(nproc)" \
      "${sources[@]}" -o "$binary" >"$out/build.log" 2>&1; then
    grep -v "Cannot export local symbol" "$out/build.log" >&2 || true
    echo "fuzz: build failed" >&2
    exit 1
  fi
  grep -v "Cannot export local symbol" "$out/build.log" >&2 || true
  echo "fuzz: built in $(( $(date +%s) - start ))s" >&2
fi

# A fresh copy of the seeds each run, so a run's findings never leak into the checked-in corpus.
corpus="$out/corpus"
artifacts="$out/artifacts"
rm -rf "$corpus" "$artifacts"
mkdir -p "$corpus" "$artifacts"
cp Fuzz/corpus/* "$corpus/"

echo "fuzz: running for ${seconds}s on $(ls "$corpus" | wc -l) seeds" >&2
start=$(date +%s)
status=0
# The Swift runtime's crash backtracer would otherwise start (and can hang) on every trap;
# libFuzzer and ASan print their own report.
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
  "$binary" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=8192 -timeout=20 \
  -dict=Fuzz/http.dict -artifact_prefix="$artifacts/" -print_final_stats=1 \
  "$corpus" >"$out/fuzz.log" 2>&1 || status=$?
echo "fuzz: ran for $(( $(date +%s) - start ))s, exit status $status" >&2

# libFuzzer's closing lines: how many inputs it ran, coverage, corpus size.
grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$out/fuzz.log" >&2 || true

found=$(find "$artifacts" -type f | LC_ALL=C sort)
if [ "$status" -eq 0 ] && [ -z "$found" ]; then
  echo "fuzz: no failure found" >&2
  exit 0
fi

# Failure: show the report and every reproducer.
echo "fuzz: FAILED; the report (full log in $out/fuzz.log):" >&2
# From the first report line: the trap's message, or the sanitizer's report and the top of its stack.
awk '!p && /Fatal error|==[0-9]+==ERROR|ERROR: libFuzzer/ { p = 1; trap = /Fatal error/ }
     p { print; n++ }
     p && trap && /deadly signal/ { exit }
     n >= 25 { exit }' "$out/fuzz.log" >&2
for f in $found; do
  echo "fuzz: reproducer $f ($(wc -c <"$f") bytes: a control byte, cut bytes, then the message):" >&2
  # Escaped: printable ASCII as is, \r \n \t, every other byte as \xNN.
  od -An -v -tx1 "$f" | tr -s ' \n' '\n\n' | grep -v '^$' | while read -r h; do
    case "$h" in
      0d) printf '\\r' ;; 0a) printf '\\n' ;; 09) printf '\\t' ;; 5c) printf '\\\\' ;;
      2[0-9a-f]|[3-6][0-9a-f]|7[0-9a-e]) printf "\\x$h" ;;
      *) printf '\\x%s' "$h" ;;
    esac
  done >&2
  echo >&2
  echo "fuzz: re-run it with: $binary $f" >&2
done
exit 1
