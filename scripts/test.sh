#!/usr/bin/env bash
# Runs every test: installs system packages and the Python clients the tests use, builds, tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/python-env.sh
swift build --build-tests
PROXYD_REQUIRE_CLIENTS=1 swift test --skip-build 2>&1 | tee .build/test-output.txt
