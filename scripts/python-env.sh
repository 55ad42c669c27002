#!/usr/bin/env bash
# Creates .venv with the real clients the end-to-end tests drive (official OpenAI and Anthropic SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
want="openai anthropic"
if ! .venv/bin/python -c "import openai, anthropic" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check $want
fi
