"""Drives proxyd with the official openai SDK: one streamed and one whole chat completion
whose upstream puts reasoning in <think> tags. Prints what the client saw as JSON."""
import json
import sys

import openai

base_url, model = sys.argv[1], sys.argv[2]
client = openai.OpenAI(base_url=base_url, api_key="sk-client-test", max_retries=0, timeout=20)
headers = {"x-fake-think": "Two plus two is four.", "x-fake-chunks": "9", "x-fake-content": "The answer is 4."}
messages = [{"role": "user", "content": "What is 2+2?"}]


def reasoning_of(obj):
    value = getattr(obj, "reasoning_content", None)
    if value is None and obj.model_extra:
        value = obj.model_extra.get("reasoning_content")
    return value or ""


result = {"stream": {"content": "", "reasoning": "", "chunks": 0, "finish": None}}
stream = client.chat.completions.create(model=model, messages=messages, stream=True, extra_headers=headers)
for chunk in stream:
    result["stream"]["chunks"] += 1
    for choice in chunk.choices:
        result["stream"]["content"] += choice.delta.content or ""
        result["stream"]["reasoning"] += reasoning_of(choice.delta)
        if choice.finish_reason:
            result["stream"]["finish"] = choice.finish_reason

raw = client.chat.completions.with_raw_response.create(model=model, messages=messages, extra_headers=headers)
completion = raw.parse()
message = completion.choices[0].message
result["whole"] = {"content": message.content, "reasoning": reasoning_of(message),
                   "provider": raw.headers.get("x-proxyd-provider"), "request_id": raw.headers.get("x-request-id"),
                   "usage": completion.usage.total_tokens if completion.usage else None}
print(json.dumps(result))
