"""Scrapes /metrics and parses it with prometheus_client's own parser; prints the samples as JSON."""
import json
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

text = urllib.request.urlopen(sys.argv[1] + "/metrics", timeout=10).read().decode()
families = {}
for family in text_string_to_metric_families(text):
    families[family.name] = {"type": family.type,
                             "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]}
print(json.dumps(families))
