#!/usr/bin/env bash
# Fuzzes proxyd's parsers with libFuzzer for a bounded time, one target after the other:
#   http-request-parser-fuzz  Fuzz/HTTPRequestParserFuzz.swift: HTTPRequestParser
#                             (seeds Fuzz/corpus, dictionary Fuzz/http.dict)
#   sse-stream-fuzz           Fuzz/SSEStreamFuzz.swift: SSEParser and ChatStreamTransform
#                             (seeds Fuzz/sse-corpus, dictionary Fuzz/sse.dict)
# Each target is built together with every ProxyCore source file (one module, so the target
# sees ProxyCore's internal names) with the toolchain's fuzzer and address sanitizers, rebuilt
# only when one of its sources changed, then run on a fresh copy of its seeds. SECONDS is split
# between the two (half each, at least 1 s each). Exits non-zero when either finds an input that
# trips an invariant, crashes, hangs or runs out of memory, and prints that input.
#
#   scripts/fuzz.sh [SECONDS]     (default 60 for both; the builds come on top)
#
# Re-run a reproducer:  .build/fuzz/http-request-parser-fuzz <file>   (or .build/fuzz/sse-stream-fuzz <file>)
# SSE_FUZZ_STRICT=1 lets the SSE target reach the known issues it otherwise steps around
# (listed in Fuzz/SSEStreamFuzz.swift).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: SECONDS must be a whole number, not '$seconds'" >&2; exit 2; }

swiftc=$(command -v swiftc || true)
[ -n "$swiftc" ] || swiftc=/opt/swift/usr/bin/swiftc
[ -x "$swiftc" ] || { echo "fuzz: swiftc not found (on PATH or at /opt/swift/usr/bin)" >&2; exit 1; }

out=.build/fuzz
mkdir -p "$out"
mapfile -t core < <(find Sources/ProxyCore -name '*.swift' | LC_ALL=C sort)

# build NAME TARGET-SOURCE: builds $out/NAME from ProxyCore, the targets' shared support file and
# the target's own file.
build() {
  local binary="$out/$1" log="$out/$1.build.log" start
  local sources=("${core[@]}" Fuzz/FuzzSupport.swift "$2")
  # Rebuild only when a source is newer than the binary (CI's fresh clone always builds).
  if [ -x "$binary" ] && [ -z "$(find "${sources[@]}" -newer "$binary" -print -quit)" ]; then return 0; fi
  echo "fuzz: building $binary from ${#sources[@]} files" >&2
  start=$(date +%s)
  # gold warns once per ASan helper symbol it cannot export; those lines say nothing useful.
  if ! "$swiftc" -sanitize=fuzzer,address -parse-as-library -O -module-name ProxyCoreFuzz -j "$(nproc)" \
      "${sources[@]}" -o "$binary" >"$log" 2>&1; then
    grep -v "Cannot export local symbol" "$log" >&2 || true
    echo "fuzz: build of $binary failed" >&2
    return 1
  fi
  grep -v "Cannot export local symbol" "$log" >&2 || true
  echo "fuzz: built $binary in $(( $(date +%s) - start ))s" >&2
}

# run NAME SEEDS DICT SECONDS LAYOUT: fuzzes $out/NAME; on a finding prints the report and every
# reproducer (LAYOUT says how its bytes are read) and returns 1.
run() {
  local name="$1" seeds="$2" dict="$3" time="$4" layout="$5"
  local binary="$out/$name" log="$out/$name.log" start status=0 found f
  # A fresh copy of the seeds each run, so a run's findings never leak into the checked-in corpus.
  local corpus="$out/$name.corpus" artifacts="$out/$name.artifacts"
  rm -rf "$corpus" "$artifacts"
  mkdir -p "$corpus" "$artifacts" || return 1
  cp "$seeds"/* "$corpus/" || return 1

  echo "fuzz: running $name for ${time}s on $(ls "$corpus" | wc -l) seeds" >&2
  start=$(date +%s)
  # The Swift runtime's crash backtracer would otherwise start (and can hang) on every trap;
  # libFuzzer and ASan print their own report.
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}" \
    "$binary" -max_total_time="$time" -rss_limit_mb=2048 -max_len=8192 -timeout=20 \
    -dict="$dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$corpus" >"$log" 2>&1 || status=$?
  echo "fuzz: $name ran for $(( $(date +%s) - start ))s, exit status $status" >&2

  # libFuzzer's closing lines: how many inputs it ran, coverage, corpus size.
  grep -E "^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::peak_rss_mb|Done [0-9]+ runs)" "$log" >&2 || true

  found=$(find "$artifacts" -type f | LC_ALL=C sort)
  if [ "$status" -eq 0 ] && [ -z "$found" ]; then
    echo "fuzz: $name found no failure" >&2
    return 0
  fi

  # Failure: show the report and every reproducer.
  echo "fuzz: $name FAILED; the report (full log in $log):" >&2
  # From the first report line: the trap's message, or the sanitizer's report and the top of its stack.
  awk '!p && /Fatal error|==[0-9]+==ERROR|ERROR: libFuzzer/ { p = 1; trap = /Fatal error/ }
       p { print; n++ }
       p && trap && /deadly signal/ { exit }
       n >= 25 { exit }' "$log" >&2
  for f in $found; do
    echo "fuzz: reproducer $f ($(wc -c <"$f") bytes: $layout):" >&2
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
  return 1
}

build http-request-parser-fuzz Fuzz/HTTPRequestParserFuzz.swift
build sse-stream-fuzz Fuzz/SSEStreamFuzz.swift

# Half the time each (the second half gets the odd second), never less than a second: a
# max_total_time of 0 would mean no limit.
first=$(( seconds / 2 ))
second=$(( seconds - first ))
[ "$first" -ge 1 ] || first=1
[ "$second" -ge 1 ] || second=1

failed=0
run http-request-parser-fuzz Fuzz/corpus Fuzz/http.dict "$first" "a control byte, cut bytes, then the message" || failed=1
run sse-stream-fuzz Fuzz/sse-corpus Fuzz/sse.dict "$second" "two control bytes, cut bytes, then the stream" || failed=1
if [ "$failed" -ne 0 ]; then
  echo "fuzz: FAILED" >&2
  exit 1
fi
echo "fuzz: no failure found" >&2
