"""Drives proxyd with the official openai SDK through streams whose upstream breaks off in the
middle of an event (or sends one over maxEventBytes). Arguments: one base URL per case, each
`NAME=URL`, and the raw upstream script (JSON) in the environment as FAKE_RAW. Prints, per case,
what the client saw: the content of the chunks it parsed and the error it raised."""
import json
import os
import sys

import openai

result = {}
for arg in sys.argv[1:]:
    name, base_url = arg.split("=", 1)
    client = openai.OpenAI(base_url=base_url, api_key="sk-client-test", max_retries=0, timeout=30)
    seen = {"content": "", "reasoning": "", "chunks": 0, "error": None, "error_class": None, "code": None}
    headers = {"x-fake-raw": os.environ["FAKE_RAW"], "x-fake-raw-end": os.environ.get("FAKE_END", "reset")}
    try:
        stream = client.chat.completions.create(model="fake-model", messages=[{"role": "user", "content": "hi"}],
                                                stream=True, extra_headers=headers)
        for chunk in stream:
            seen["chunks"] += 1
            for choice in chunk.choices:
                seen["content"] += choice.delta.content or ""
                extra = choice.delta.model_extra or {}
                seen["reasoning"] += extra.get("reasoning_content") or ""
    except openai.APIError as e:
        seen["error"] = str(e)
        seen["error_class"] = "APIError"
        body = e.body if isinstance(e.body, dict) else {}
        seen["code"] = body.get("code")
    except Exception as e:  # anything else is what proxyd must prevent
        seen["error"] = repr(e)
        seen["error_class"] = type(e).__name__
    result[name] = seen
print(json.dumps(result))
