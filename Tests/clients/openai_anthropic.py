"""The official openai SDK talking to a provider that speaks Anthropic's Messages API through
proxyd: whole, streamed with thinking, a tool-call round trip, and an upstream error."""
import json
import sys

import openai

client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-client-key", max_retries=0, timeout=20)
model = sys.argv[2]
out = {}

whole = client.chat.completions.create(model=model, messages=[{"role": "system", "content": "Be brief."},
                                                              {"role": "user", "content": "Hi"}],
                                       extra_headers={"x-fake-content": "Bonjour!"})
out["whole"] = {"content": whole.choices[0].message.content, "finish": whole.choices[0].finish_reason,
                "prompt_tokens": whole.usage.prompt_tokens, "completion_tokens": whole.usage.completion_tokens}

content, reasoning, usage = "", "", None
for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "2+2?"}], stream=True,
                                            stream_options={"include_usage": True},
                                            extra_headers={"x-fake-think": "Add them.", "x-fake-content": "It is 4."}):
    if chunk.usage:
        usage = chunk.usage.total_tokens
    for c in chunk.choices:
        content += c.delta.content or ""
        reasoning += (c.delta.model_extra or {}).get("reasoning_content") or ""
out["stream"] = {"content": content, "reasoning": reasoning, "usage_total": usage}

tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather for a city",
                                           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}]
messages = [{"role": "user", "content": "Weather in Paris?"}]
first = client.chat.completions.create(model=model, messages=messages, tools=tools, extra_headers={"x-fake-tool": "get_weather"})
call = first.choices[0].message.tool_calls[0]
messages.append(first.choices[0].message.model_dump(exclude_none=True))
messages.append({"role": "tool", "tool_call_id": call.id, "content": "18C and sunny"})
second = client.chat.completions.create(model=model, messages=messages, tools=tools)
out["tools"] = {"finish": first.choices[0].finish_reason, "name": call.function.name, "arguments": json.loads(call.function.arguments),
                "answer": second.choices[0].message.content}

# Streamed tool call: arguments arrive in pieces, indexed per tool.
args, name = "", None
for chunk in client.chat.completions.create(model=model, messages=[{"role": "user", "content": "Weather?"}], tools=tools, stream=True,
                                            extra_headers={"x-fake-tool": "get_weather"}):
    for c in chunk.choices:
        for tc in c.delta.tool_calls or []:
            name = name or (tc.function.name if tc.function else None)
            args += (tc.function.arguments or "") if tc.function else ""
out["stream_tools"] = {"name": name, "arguments": json.loads(args)}

try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], extra_headers={"x-fake-status": "429"})
    out["error"] = "no error"
except openai.RateLimitError as e:
    out["error"] = {"status": e.status_code, "type": e.type}
try:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}], n=2)
    out["n2"] = "no error"
except openai.BadRequestError as e:
    out["n2"] = {"status": e.status_code}
print(json.dumps(out))
