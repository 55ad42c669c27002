#!/usr/bin/env python3
"""Scans every log line the test suite's proxyd instances wrote for secrets: the API keys the
tests use (sk-…, ak-…, pk-… tokens) and any Authorization or x-api-key value that is not redacted.
Exits 1 and prints each leak when one is found."""
import os
import re
import sys

directory = sys.argv[1]
secret = re.compile(r"(?<![A-Za-z0-9])(sk|ak|pk)-[A-Za-z0-9-]{3,}")
header = re.compile(r"(?i)(authorization|x-api-key)\"?\s*[:=]\s*\"?(?!\[redacted\])(bearer\s+)?[A-Za-z0-9_-]{6,}")
files = lines = 0
leaks = []
for name in sorted(os.listdir(directory)):
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        continue
    files += 1
    with open(path, errors="replace") as f:
        for n, line in enumerate(f, 1):
            lines += 1
            if secret.search(line) or header.search(line):
                leaks.append(f"{name}:{n}: {line.strip()[:300]}")
print(f"secret scan of proxyd's logs: {files} files, {lines} lines, {len(leaks)} leaks")
for leak in leaks:
    print("LEAK " + leak)
sys.exit(1 if leaks or files == 0 else 0)
