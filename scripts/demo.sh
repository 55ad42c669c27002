#!/usr/bin/env bash
# Offline demo: the fake upstream, proxyd in front of it, and a curl that streams through it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release --product proxyd >&2
swift build -c release --product fake-upstream >&2
work=$(mktemp -d)
.build/release/fake-upstream --listen 127.0.0.1:0 > "$work/fake.out" &
fake=$!
trap 'kill $fake ${proxy:-} 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do grep -q listening "$work/fake.out" && break; sleep 0.05; done
fport=$(grep -o '[0-9]*$' "$work/fake.out")
cat > "$work/config.json" <<JSON
{"inheritDefaults": false,
 "providers": {"fake": {"baseUrl": "http://127.0.0.1:$fport", "allowedPaths": ["/v1/*"], "models": ["fake-reasoner"]}}}
JSON
.build/release/proxyd --config "$work/config.json" --listen 127.0.0.1:0 2> "$work/proxyd.log" &
proxy=$!
for _ in $(seq 100); do grep -q '"listening"' "$work/proxyd.log" && break; sleep 0.05; done
pport=$(grep -o '"address":"127.0.0.1:[0-9]*' "$work/proxyd.log" | grep -o '[0-9]*$')
echo "fake upstream on $fport, proxyd on $pport; streaming a chat completion through proxyd:" >&2
curl -sS -N "http://127.0.0.1:$pport/v1/chat/completions" \
  -H 'Content-Type: application/json' -H 'x-fake-think: The user says hi; answer briefly.' -H 'x-fake-delay-ms: 150' \
  -d '{"model":"fake-reasoner","stream":true,"messages":[{"role":"user","content":"hi"}]}'
echo >&2 "--- proxyd's access log line:"
grep '"msg":"access"' "$work/proxyd.log" >&2
