#!/usr/bin/env python3
"""Prints which folders of Sources/ProxyCore use types declared in which others, and every use
that goes against the intended order (LAYERS below: a folder may use only folders before it).
A type counts as used where its name appears outside comments and strings.
Usage: scripts/layers.py [--all]
"""
import os, re, sys
from collections import defaultdict

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "Sources", "ProxyCore")
LAYERS = ["Bytes", "JSON", "HTTP", "Paths", "Streaming", "Observability", "Accounting", "Answers", "Hub",
          "Configuration", "Catalog", "Dialects", "Policy", "Routing", "Documentation", "Planning", "CommandLine", "Exchange"]
DECL = re.compile(r"^(?:public |internal |fileprivate |private )?(?:final )?(?:indirect )?(?:struct|class|enum|protocol|typealias)\s+([A-Z]\w*)", re.M)
FUNC = re.compile(r"^(?:public )?func\s+(\w+)", re.M)


def strip(text):
    text = re.sub(r"//.*", "", text)
    text = re.sub(r'#?"""[\s\S]*?"""#?', '""', text)
    return re.sub(r'#?"(?:\\.|[^"\\\n])*"#?', '""', text)


def main():
    files = {}
    for d, _, names in os.walk(ROOT):
        for n in names:
            if n.endswith(".swift"):
                p = os.path.join(d, n)
                folder = os.path.relpath(p, ROOT).split(os.sep)[0]
                files[p] = (folder, strip(open(p).read()))
    owner = {}
    for p, (folder, text) in files.items():
        for name in DECL.findall(text) + FUNC.findall(text):
            owner.setdefault(name, folder)
    uses = defaultdict(lambda: defaultdict(set))
    for p, (folder, text) in files.items():
        for token in set(re.findall(r"\b[A-Za-z_]\w*\b", text)):
            o = owner.get(token)
            if o and o != folder:
                uses[folder][o].add(f"{token} ({os.path.relpath(p, ROOT)})")
    bad = 0
    for folder in sorted(uses, key=lambda f: LAYERS.index(f) if f in LAYERS else 99):
        for other, why in sorted(uses[folder].items()):
            up = folder in LAYERS and other in LAYERS and LAYERS.index(other) > LAYERS.index(folder)
            unknown = folder not in LAYERS or other not in LAYERS
            if up or unknown or "--all" in sys.argv:
                print(f"{'UP ' if up else '?? ' if unknown else '   '}{folder} -> {other}: {', '.join(sorted(why)[:4])}")
                bad += up or unknown
    print(f"{bad} uses against the order" if bad else "every folder uses only folders below it")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
