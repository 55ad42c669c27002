#!/usr/bin/env python3
"""One huge answer must not stall the other clients of its worker.

Runs the fake upstream and proxyd (one worker) on loopback. One client reads a BYTES-long
answer through proxyd as fast as it can: a chat-completions stream of 4 KB events (carried event
by event) or, with --passthrough, a plain octet stream. Meanwhile another client asks for
/healthz again and again, each time on a new connection, and the latency of each answer is noted.
Prints p50, p99 and the slowest, the big answer's throughput and proxyd's peak RSS. With --check
MS it exits 1 when the p99 is over MS milliseconds, or proxyd's peak RSS over --max-rss MB.

Every load is bounded: one answer of BYTES, at most --max-probes /healthz requests, socket
time-outs. Usage: scripts/healthz_under_load.py [--bytes N] [--passthrough] [--check MS]
[--max-rss MB] [--build release|debug]
"""
import argparse, json, os, shutil, socket, statistics, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import peak_rss_mb, start_fake_and_proxyd, stop_all  # noqa: E402  (the benchmark's loopback helpers)

EVENT = ('data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"'
         + "y" * 4000 + '"},"finish_reason":null}]}\n\n')


def big_answer(port, total, passthrough, result):
    """Reads the whole answer; stores (bytes, seconds) in result."""
    if passthrough:
        request = f"GET /fake/bulk?bytes={total} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    else:
        script = json.dumps([[EVENT, max(1, total // len(EVENT))], ["data: [DONE]\n\n", 1]])
        body = json.dumps({"model": "fake-model", "stream": True, "messages": [{"role": "user", "content": "hi"}]})
        request = (f"POST /fake/v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                   f"x-fake-raw: {script}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n{body}").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    started = time.monotonic()
    sock.sendall(request)
    n = 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    tail = b""
    while True:
        k = sock.recv_into(view)
        if k == 0:
            break
        n += k
        tail = (tail + bytes(view[:k]))[-16:]
        if passthrough and n >= total:
            break
        if not passthrough and tail.endswith(b"0\r\n\r\n"):
            break
    sock.close()
    result["bytes"] = n
    result["seconds"] = time.monotonic() - started


def healthz(port):
    """Milliseconds for one /healthz on a new connection."""
    started = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    data = b""
    while True:
        piece = s.recv(4096)
        if not piece:
            break
        data += piece
    s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"/healthz answered {data[:40]!r}")
    return (time.monotonic() - started) * 1000


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bytes", type=int, default=2 << 30)
    ap.add_argument("--passthrough", action="store_true", help="a plain octet stream instead of a chat stream")
    ap.add_argument("--check", type=float, help="fail when the /healthz p99 is over this many ms")
    ap.add_argument("--max-rss", type=float, default=64, help="with --check, fail when proxyd's peak RSS is over this many MB")
    ap.add_argument("--max-probes", type=int, default=20000)
    ap.add_argument("--build", choices=["release", "debug"], default="release")
    args = ap.parse_args()
    binaries = os.path.join(ROOT, ".build", args.build)
    tmp = tempfile.mkdtemp(prefix="proxyd-healthz-")
    procs = []
    try:
        _, pport, proxy = start_fake_and_proxyd(binaries, tmp, procs,
                                                provider={"allowedPaths": ["/v1/*", "/bulk"], "think": "split"})
        for _ in range(20):
            healthz(pport)  # warm-up
        result = {}
        reader = threading.Thread(target=big_answer, args=(pport, args.bytes, args.passthrough, result))
        reader.start()
        times = []
        while reader.is_alive() and len(times) < args.max_probes:
            times.append(healthz(pport))
        reader.join(timeout=120)
        rss = peak_rss_mb([proxy.pid])
        if not times or "bytes" not in result:
            print("healthz_under_load: the big answer ended before any probe", file=sys.stderr)
            return 1
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        kind = "octet stream" if args.passthrough else "chat stream (split)"
        print(f"/healthz beside a {result['bytes'] / (1 << 20):.0f} MiB {kind} on the same worker "
              f"({result['bytes'] / (1 << 20) / result['seconds']:.0f} MiB/s): {len(times)} probes, "
              f"p50 {statistics.median(times):.2f} ms, p99 {p99:.2f} ms, slowest {times[-1]:.2f} ms; "
              f"proxyd peak RSS {rss:.1f} MB")
        if args.check is not None and (p99 > args.check or rss > args.max_rss):
            print(f"healthz_under_load: p99 {p99:.2f} ms (limit {args.check}), peak RSS {rss:.1f} MB (limit {args.max_rss})",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
