#!/usr/bin/env bash
# Runs the README's "run proxyd" command exactly as written, on a fresh clone of this repository's
# committed state, and checks that proxyd comes up and answers: GET / and /healthz, and a dry run
# of `gpt-4o-mini` naming OpenAI's URL. It builds from nothing, so it takes a few minutes.
# Everything it starts is one process group, ended by its id; the clone is removed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
command=$(awk '/^Run proxyd/ { seen = 1 } seen && /^```sh/ { getline; print; exit }' "$root/README.md")
[ -n "$command" ] || { echo "readme-check: no run command found in README.md" >&2; exit 1; }
work=$(mktemp -d /tmp/proxyd-readme-XXXXXX)
pgid=""
cleanup() {
  if [ -n "$pgid" ]; then kill -TERM -- "-$pgid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
git clone -q "$root" "$work/proxyd"
cd "$work/proxyd"
echo "readme-check: running '$command' in a fresh clone" >&2
setsid bash -c "$command" >"$work/stdout" 2>"$work/stderr" </dev/null &
pgid=$!
# The build comes first; the listening line names the address.
address=""
for _ in $(seq 1 900); do
  address=$(grep -o '"msg":"listening".*"address":"[^"]*"' "$work/stderr" 2>/dev/null | grep -o '"address":"[^"]*"' | cut -d'"' -f4 || true)
  [ -n "$address" ] && break
  kill -0 "$pgid" 2>/dev/null || { echo "readme-check: the command exited:" >&2; tail -20 "$work/stderr" >&2; exit 1; }
  sleep 1
done
[ -n "$address" ] || { echo "readme-check: proxyd did not start within 15 minutes" >&2; tail -20 "$work/stderr" >&2; exit 1; }
root_answer=$(curl -sS --max-time 5 "http://$address/")
health=$(curl -sS --max-time 5 -o /dev/null -w '%{http_code}' "http://$address/healthz")
echo "readme-check: proxyd listens on $address; / says $root_answer; /healthz $health" >&2
[[ "$root_answer" == *'"service":"proxyd"'* && "$health" == 200 ]] || { echo "readme-check: unexpected answers" >&2; exit 1; }
route=$(.build/release/proxyd route POST /v1/chat/completions --model gpt-4o-mini --config proxyd.example.json)
[[ "$route" == *'"upstream_url":"https://api.openai.com/v1/chat/completions"'* ]] \
  || { echo "readme-check: gpt-4o-mini is not routed to OpenAI: $route" >&2; exit 1; }
kill -TERM -- "-$pgid"
for _ in $(seq 1 100); do kill -0 "$pgid" 2>/dev/null || break; sleep 0.1; done
pgid=""
echo "readme-check: the README's run command works on a fresh clone" >&2
