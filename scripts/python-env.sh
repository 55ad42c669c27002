#!/usr/bin/env bash
# Creates .venv with the real clients and tools the end-to-end tests drive: the official OpenAI and
# Anthropic SDKs, prometheus_client's exposition parser, openapi-spec-validator and schemathesis.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -c "import openai, anthropic, prometheus_client, openapi_spec_validator, schemathesis" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check openai anthropic prometheus_client openapi-spec-validator schemathesis
fi
