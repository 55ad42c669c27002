#!/usr/bin/env bash
# Creates .venv with the real clients and tools the end-to-end tests drive: the official OpenAI and
# Anthropic SDKs, prometheus_client's exposition parser, openapi-spec-validator and schemathesis, and
# two strict HTTP/1.1 request parsers (h11, and httptools over llhttp) for the parser's differential test.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The differential test's parsers are pinned: the check wants those exact versions, not just the modules.
if ! .venv/bin/python -c "import openai, anthropic, prometheus_client, openapi_spec_validator, schemathesis, h11, httptools
assert (h11.__version__, httptools.__version__) == ('0.16.0', '0.9.0')" 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check openai anthropic prometheus_client openapi-spec-validator schemathesis \
    h11==0.16.0 httptools==0.9.0
fi
