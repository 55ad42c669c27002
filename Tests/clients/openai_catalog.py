"""The official openai SDK against proxyd's OpenAI-compatible endpoints: list models, a whole
completion with its headers, and a stream. Prints what the client saw as JSON."""
import json
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-client-test", max_retries=0, timeout=20)
listed = list(client.models.list())
result = {"models": [m.id for m in listed], "created": [m.created for m in listed]}
one = client.models.retrieve(sys.argv[2])
result["retrieved"] = {"id": one.id, "owned_by": one.owned_by, "created": one.created}
try:
    client.models.retrieve("no-such-model")
    result["retrieve_unknown"] = "no error"
except openai.NotFoundError as e:
    result["retrieve_unknown"] = {"status": e.status_code}
raw = client.chat.completions.with_raw_response.create(model=sys.argv[2], messages=[{"role": "user", "content": "hi"}])
completion = raw.parse()
result["whole"] = {"content": completion.choices[0].message.content, "cost": raw.headers.get("x-proxyd-cost-usd"),
                   "provider": raw.headers.get("x-proxyd-provider"), "total_tokens": completion.usage.total_tokens}
text = ""
usage_seen = False
for chunk in client.chat.completions.create(model=sys.argv[2], messages=[{"role": "user", "content": "hi"}], stream=True):
    usage_seen = usage_seen or chunk.usage is not None
    for c in chunk.choices:
        text += c.delta.content or ""
result["stream"] = {"content": text, "usage_seen": usage_seen}
try:
    client.chat.completions.create(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    result["unknown_model"] = "no error"
except openai.NotFoundError as e:
    result["unknown_model"] = {"status": e.status_code, "code": e.code}
print(json.dumps(result))
