"""Validates /openapi.json with openapi-spec-validator and checks every route has a summary,
description and tags. Prints the operation count."""
import json
import sys
import urllib.request

from openapi_spec_validator import validate

doc = json.load(urllib.request.urlopen(sys.argv[1] + "/openapi.json", timeout=10))
validate(doc)
count = 0
for path, item in doc["paths"].items():
    for method, op in item.items():
        assert op.get("summary") and op.get("description") and op.get("tags"), (path, method)
        assert op.get("responses"), (path, method)
        count += 1
print(json.dumps({"operations": count, "openapi": doc["openapi"]}))
