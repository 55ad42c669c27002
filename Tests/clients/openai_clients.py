"""The official openai SDK, sync and async, whole and streamed, through proxyd's chat routes, and
proxyd's errors surfacing as the SDK's own exception types. Prints results as JSON."""
import asyncio
import json
import sys

import openai

proxy, fake, model = sys.argv[1], sys.argv[2], sys.argv[3]
routes = {"route6": f"{proxy}/v1", "route7": f"{proxy}/proxy/{fake}/v1", "route8": f"{proxy}/provider/fake/v1",
          "route10": f"{proxy}/fake/v1"}
messages = [{"role": "user", "content": "hi"}]
headers = {"x-fake-think": "hmm", "x-fake-content": "Answer."}
out = {}
for name, base in routes.items():
    client = openai.OpenAI(base_url=base, api_key="sk-client", max_retries=0, timeout=20)
    whole = client.chat.completions.create(model=model, messages=messages, extra_headers=headers)
    text = "".join(c.choices[0].delta.content or "" for c in
                   client.chat.completions.create(model=model, messages=messages, stream=True, extra_headers=headers) if c.choices)
    out[name] = {"sync_whole": whole.choices[0].message.content, "sync_stream": text}


async def run_async():
    for name, base in routes.items():
        client = openai.AsyncOpenAI(base_url=base, api_key="sk-client", max_retries=0, timeout=20)
        whole = await client.chat.completions.create(model=model, messages=messages, extra_headers=headers)
        text = ""
        async for c in await client.chat.completions.create(model=model, messages=messages, stream=True, extra_headers=headers):
            if c.choices:
                text += c.choices[0].delta.content or ""
        out[name]["async_whole"] = whole.choices[0].message.content
        out[name]["async_stream"] = text

asyncio.run(run_async())


def error_of(call):
    try:
        call()
        return "no error"
    except openai.APIStatusError as e:
        return {"class": type(e).__name__, "status": e.status_code}


client = openai.OpenAI(base_url=f"{proxy}/v1", api_key="sk-client", max_retries=0, timeout=20)
out["errors"] = {
    "unknown_model": error_of(lambda: client.chat.completions.create(model="nobody-has-it", messages=messages)),
    "upstream_429": error_of(lambda: client.chat.completions.create(model=model, messages=messages, extra_headers={"x-fake-status": "429"})),
    "upstream_500": error_of(lambda: client.chat.completions.create(model=model, messages=messages, extra_headers={"x-fake-status": "500"})),
    "refused_path": error_of(lambda: openai.OpenAI(base_url=f"{proxy}/fake/v2", api_key="k", max_retries=0).chat.completions.create(
        model=model, messages=messages)),
    "dead_upstream": error_of(lambda: openai.OpenAI(base_url=f"{proxy}/provider/dead/v1", api_key="k", max_retries=0).chat.completions.create(
        model=model, messages=messages)),
}
print(json.dumps(out))
