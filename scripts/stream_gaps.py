#!/usr/bin/env python3
"""Streamed events must reach the client as they are sent, not in bursts.

Runs the fake upstream, proxyd in front of it and, when nginx is installed, nginx as a plain
reverse proxy (buffering off), all on loopback. For each target it reads STREAMS streamed chat
completions over one kept-alive connection, the upstream sending an event every DELAY ms, notes
when each event's closing blank line arrives, and takes each stream's largest gap between two
events. It prints the median of those largest gaps per target. With --check MARGIN it exits 1
when proxyd's median exceeds the upstream's own (measured directly) by more than MARGIN ms.

Every load is bounded: STREAMS streams of CHUNKS events each, and a socket time-out.
Usage: scripts/stream_gaps.py [--streams N] [--chunks N] [--delay MS] [--check MARGIN_MS] [--build release|debug]
"""
import argparse, json, os, shutil, socket, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import free_port, start_fake_and_proxyd, stop_all, wait_port  # noqa: E402  (the benchmark's loopback helpers)


def largest_gaps(port, path, streams, chunks, delay):
    """The largest gap (ms) between consecutive events of each stream, read on one connection."""
    # The client asks for usage itself, so proxyd passes every upstream event on (it would keep
    # back a usage event it asked for on the client's behalf, which would count as a gap).
    body = json.dumps({"model": "fake-model", "stream": True, "stream_options": {"include_usage": True},
                       "messages": [{"role": "user", "content": "hi"}]})
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               f"x-fake-chunks: {chunks}\r\nx-fake-delay-ms: {delay}\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    gaps = []
    try:
        for _ in range(streams):
            sock.sendall(request)
            data = b""
            times = []
            seen = 0
            # A chunked stream ends with its zero-size chunk, after [DONE].
            while not (b"[DONE]" in data and data.endswith(b"0\r\n\r\n")):
                piece = sock.recv(65536)
                if not piece:
                    raise RuntimeError("connection closed mid-stream")
                now = time.monotonic()
                data += piece
                ends = data.count(b"\n\n")
                times.extend([now] * (ends - seen))
                seen = ends
            steps = [(b - a) * 1000 for a, b in zip(times, times[1:])]
            gaps.append(max(steps) if steps else 0.0)
    finally:
        sock.close()
    return gaps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--streams", type=int, default=20)
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--delay", type=int, default=5, help="ms between the upstream's events")
    ap.add_argument("--check", type=float, help="fail when proxyd adds more than this many ms to the upstream's gap")
    ap.add_argument("--build", choices=["release", "debug"], default="release", help="which build's binaries to run")
    args = ap.parse_args()
    binaries = os.path.join(ROOT, ".build", args.build)
    tmp = tempfile.mkdtemp(prefix="proxyd-gaps-")
    procs = []
    try:
        fport, pport, _ = start_fake_and_proxyd(binaries, tmp, procs)
        targets = [("upstream (direct)", fport), ("proxyd", pport)]
        if shutil.which("nginx"):
            nport = free_port()
            conf = os.path.join(tmp, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""
worker_processes 1; pid {tmp}/nginx.pid; error_log {tmp}/nginx-error.log warn; daemon off;
events {{ worker_connections 256; }}
http {{ access_log off; upstream fake {{ server 127.0.0.1:{fport}; keepalive 8; }}
  server {{ listen 127.0.0.1:{nport}; client_body_temp_path {tmp}/b; proxy_temp_path {tmp}/p;
    location / {{ proxy_pass http://fake; proxy_http_version 1.1; proxy_set_header Connection "";
                 proxy_buffering off; proxy_request_buffering off; }} }} }}
""")
            procs.append(subprocess.Popen(["nginx", "-c", conf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            wait_port(nport)
            targets.append(("nginx", nport))
        medians = {}
        for name, port in targets:
            largest_gaps(port, "/v1/chat/completions", 2, args.chunks, args.delay)  # warm-up
            gaps = largest_gaps(port, "/v1/chat/completions", args.streams, args.chunks, args.delay)
            medians[name] = statistics.median(gaps)
        print(f"{args.streams} streams of {args.chunks} events, {args.delay} ms apart at the upstream; "
              "median over streams of each stream's largest gap between events:")
        for name, _ in targets:
            print(f"  {name:18} {medians[name]:6.2f} ms")
        added = medians["proxyd"] - medians["upstream (direct)"]
        print(f"  proxyd adds {added:+.2f} ms to the upstream's own gap")
        if args.check is not None and added > args.check:
            print(f"stream_gaps: proxyd adds more than {args.check} ms: events are being held back", file=sys.stderr)
            return 1
        return 0
    finally:
        stop_all(procs)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
