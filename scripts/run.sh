#!/usr/bin/env bash
# Builds proxyd (release) and runs it; arguments go to proxyd (default: serve on 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product proxyd >&2
exec .build/release/proxyd "$@"
