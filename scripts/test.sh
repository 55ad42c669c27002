#!/usr/bin/env bash
# Runs every test: installs system packages and the Python clients the tests use, builds, runs the
# Swift test suite (unit, loopback end-to-end, real SDKs), then scans every log line the suite's
# proxyd instances wrote for the keys the tests used.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/python-env.sh
swift build --build-tests
logs=$(mktemp -d /tmp/proxyd-test-logs-XXXXXX)
trap 'rm -rf "$logs"' EXIT
PROXYD_TEST_LOG_DIR="$logs" PROXYD_REQUIRE_CLIENTS=1 swift test --skip-build 2>&1 | tee .build/test-output.txt
python3 scripts/scan-test-logs.py "$logs"
# The test runner's own summary closes the output.
grep -E "Test run with [0-9]+ tests" .build/test-output.txt | tail -n 1
