"""The official anthropic SDK through proxyd's pass-through route to an Anthropic provider."""
import json
import sys

import anthropic

client = anthropic.Anthropic(base_url=sys.argv[1], api_key="sk-ant-client", max_retries=0, timeout=20)
msg = client.messages.create(model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "Hi"}],
                             extra_headers={"x-fake-content": "Hello from Claude."})
text = ""
with client.messages.stream(model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "Hi"}],
                            extra_headers={"x-fake-think": "Thinking...", "x-fake-content": "Streamed."}) as stream:
    for t in stream.text_stream:
        text += t
    final = stream.get_final_message()
print(json.dumps({"whole": msg.content[0].text, "stop": msg.stop_reason, "stream": text,
                  "final_blocks": [b.type for b in final.content]}))
