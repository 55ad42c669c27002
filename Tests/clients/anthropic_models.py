"""The official anthropic SDK lists and retrieves proxyd's models (GET /v1/models in Anthropic's
shape, chosen by the anthropic-version header the SDK sends). Prints what it saw as JSON."""
import json
import sys

import anthropic

client = anthropic.Anthropic(base_url=sys.argv[1], api_key="sk-ant-client-test", max_retries=0, timeout=20)
page = client.models.list()
result = {"ids": [m.id for m in page.data], "created": [m.created_at.isoformat() for m in page.data],
          "types": [m.type for m in page.data]}
one = client.models.retrieve(sys.argv[2])
result["retrieved"] = {"id": one.id, "display_name": one.display_name, "created_at": one.created_at.isoformat()}
# An unknown model is the SDK's NotFoundError, its body in the Messages API's error shape.
try:
    client.models.retrieve("no-such-model")
    result["unknown"] = "found"
except anthropic.NotFoundError as e:
    result["unknown"] = {"status": e.status_code, "type": e.body.get("type"), "error_type": e.body["error"]["type"],
                         "message": e.body["error"]["message"]}
print(json.dumps(result))
