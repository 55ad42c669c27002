"""Feeds each request of an HTTP/1 corpus to two established strict parsers, h11 and httptools
(llhttp), and prints what each made of it, for proxyd's parser to be compared against.

Usage: http1_differential.py CORPUS

CORPUS is Tests/ProxyCoreTests/Fixtures/http1/corpus.json: each case's "request" is a string whose
characters U+0000..U+00FF are its bytes. The output on stdout is one JSON object:

    {"versions": {"h11": "...", "httptools": "..."},
     "cases": {"<name>": {"h11": VERDICT, "httptools": VERDICT}, ...}}

where VERDICT is {"accepted": true, "requests": N, "bodies": [...]} (the complete requests read and
their decoded bodies, again one character per byte; a request still incomplete at the end of the
bytes is not counted, and no end of input is signalled) or {"accepted": false, "error": "..."}.

Neither parser is given proxyd's size limits: the comparison is about syntax and framing.
"""

import json
import sys

import h11
import httptools

# Large enough that h11's own bound on an incomplete head never decides a case.
H11_MAX_HEAD = 1 << 20


def as_text(data):
    return bytes(data).decode("latin-1")


def accepted(bodies, **extra):
    verdict = {"accepted": True, "requests": len(bodies), "bodies": [as_text(b) for b in bodies]}
    verdict.update(extra)
    return verdict


def rejected(error):
    return {"accepted": False, "error": error}


def run_h11(data):
    conn = h11.Connection(h11.SERVER, max_incomplete_event_size=H11_MAX_HEAD)
    conn.receive_data(data)
    bodies = []
    body = bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as e:
            return rejected(f"{e} (hint {e.error_status_hint})")
        if event is h11.NEED_DATA or event is h11.PAUSED:
            return accepted(bodies)
        if isinstance(event, h11.Request):
            body = bytearray()
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            bodies.append(bytes(body))
            # h11 reads the next request only once this one is answered. A 404 switches no
            # protocol (CONNECT, Upgrade) and frames itself with Content-Length.
            conn.send(h11.Response(status_code=404, headers=[("Content-Length", "0")]))
            conn.send(h11.EndOfMessage())
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                # The connection must close after this request (HTTP/1.0, Connection: close).
                left = len(conn.trailing_data[0])
                return accepted(bodies, closed=True, unread=left)
            conn.start_next_cycle()


class _Collector:
    def __init__(self):
        self.bodies = []
        self.body = bytearray()

    def on_message_begin(self):
        self.body = bytearray()

    def on_body(self, data):
        self.body += data

    def on_message_complete(self):
        self.bodies.append(bytes(self.body))


def run_httptools(data):
    collector = _Collector()
    parser = httptools.HttpRequestParser(collector)
    try:
        parser.feed_data(data)
    except httptools.HttpParserUpgrade:
        # CONNECT or Upgrade: llhttp stops reading HTTP after the head.
        return accepted(collector.bodies, upgrade=True)
    except httptools.HttpParserError as e:
        return rejected(f"{type(e).__name__}: {e}")
    return accepted(collector.bodies)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        corpus = json.load(f)
    results = {}
    for case in corpus["cases"]:
        data = case["request"].encode("latin-1")
        results[case["name"]] = {"h11": run_h11(data), "httptools": run_httptools(data)}
    out = {"versions": {"h11": h11.__version__, "httptools": httptools.__version__}, "cases": results}
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
