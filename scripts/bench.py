#!/usr/bin/env python3
"""proxyd's benchmark: one run measures the fake upstream directly, proxyd, two stack floors (the
plainest proxy on evhttp and libcurl, Benchmarks/stack-floor.c, and the plainest on a minimal
HTTP/1.1 server over raw libevent events and libcurl, Benchmarks/stack-floor-raw.c) and nginx as
a plain reverse proxy (keep-alive upstream pool, buffering off) under the same wrk load, and
prints a table: requests/s, p50/p99 latency, proxy CPU time per request, peak RSS.

Everything listens on 127.0.0.1; every load run is bounded by wrk's duration.
Usage: scripts/bench.py [--duration S] [--connections N] [--workers N]
"""
import argparse, json, os, re, signal, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, ".build", "release")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def wait_port(port, deadline=20):
    end = time.time() + deadline
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listening on {port}")


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def peak_rss_mb(pids):
    peak = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
    return peak / 1024


def start_fake_and_proxyd(binaries, tmp, procs, provider=None):
    """Starts the fake upstream and one proxyd worker in front of it (as provider `fake`, with
    `provider` merged into its entry), appends both to `procs`, waits for their ports and returns
    (fake port, proxyd port, proxyd process)."""
    fport = free_port()
    procs.append(subprocess.Popen([os.path.join(binaries, "fake-upstream"), "--listen", f"127.0.0.1:{fport}"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_port(fport)
    pport = free_port()
    cfg = os.path.join(tmp, "proxyd.json")
    entry = {"baseUrl": f"http://127.0.0.1:{fport}", "allowedPaths": ["/v1/*"], "models": ["fake-model"]}
    entry.update(provider or {})
    with open(cfg, "w") as f:
        json.dump({"inheritDefaults": False, "log": {"access": False, "level": "warn"}, "server": {"workers": 1},
                   "providers": {"fake": entry}}, f)
    proxy = subprocess.Popen([os.path.join(binaries, "proxyd"), "serve", "--config", cfg, "--listen", f"127.0.0.1:{pport}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    procs.append(proxy)
    wait_port(pport)
    return fport, pport, proxy


def stop_all(procs):
    """Ends the processes this script started, newest first, by their PIDs."""
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try: p.wait(timeout=10)
        except subprocess.TimeoutExpired: p.kill()


def children(pid):
    try:
        out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
        return [int(p) for p in out]
    except Exception:
        return []


LUA = """
wrk.method = "POST"
wrk.body = '{"model":"fake-model","stream":%s,"messages":[{"role":"user","content":"Say hello."}]}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["x-fake-chunks"] = "20"
wrk.headers["x-fake-think"] = "The user wants a greeting."
"""


def run_wrk(url, stream, duration, connections, tmp):
    script = os.path.join(tmp, f"load-{stream}.lua")
    with open(script, "w") as f:
        f.write(LUA % ("true" if stream else "false"))
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, timeout=duration + 30).stdout
    def ms(label):
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)", out, re.M)
        if not m: return float("nan")
        v = float(m.group(1)); return v / 1000 if m.group(2) == "us" else v * 1000 if m.group(2) == "s" else v
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": ms("50%"), "p99": ms("99%"), "requests": total,
            "non2xx": int(errors.group(1)) if errors else 0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=int, default=8)
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--workers", type=int, default=1, help="event loops for proxyd, worker processes for nginx")
    ap.add_argument("--rounds", type=int, default=3, help="rounds; targets are interleaved within each, medians reported")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="proxyd-bench-")
    procs = []
    try:
        fport = free_port()
        fake = subprocess.Popen([os.path.join(REL, "fake-upstream"), "--listen", f"127.0.0.1:{fport}"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(fake); wait_port(fport)

        def start_proxyd(name, think):
            port = free_port()
            cfg = os.path.join(tmp, f"{name}.json")
            with open(cfg, "w") as f:
                json.dump({"inheritDefaults": False, "log": {"access": False, "level": "warn"}, "think": {"mode": think},
                           "server": {"workers": args.workers},
                           "providers": {"fake": {"baseUrl": f"http://127.0.0.1:{fport}", "allowedPaths": ["/v1/*"],
                                                  "models": ["fake-model"]}}}, f)
            proc = subprocess.Popen([os.path.join(REL, "proxyd"), "serve", "--config", cfg, "--listen", f"127.0.0.1:{port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc)
            wait_port(port)
            return proc, port

        proxyd, pport = start_proxyd("proxyd", "split")
        # The same proxyd with reasoning processing off, for the split-vs-off comparison.
        proxyd_off, oport = start_proxyd("proxyd-off", "off")

        # The stack floors run one loop, like proxyd with workers=1; they are left out with more workers.
        def start_floor(binary):
            port = free_port()
            proc = subprocess.Popen([os.path.join(REL, binary), "--listen", f"127.0.0.1:{port}",
                                     "--upstream", f"http://127.0.0.1:{fport}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(proc); wait_port(port)
            return proc, port

        floor = floor_raw = None
        if args.workers == 1:
            floor, lport = start_floor("stack-floor")
            floor_raw, rport = start_floor("stack-floor-raw")

        nport = free_port()
        nconf = os.path.join(tmp, "nginx.conf")
        with open(nconf, "w") as f:
            f.write(f"""
worker_processes {args.workers};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
daemon off;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  upstream fake {{ server 127.0.0.1:{fport}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{nport};
    client_body_temp_path {tmp}/nginx-body;
    proxy_temp_path {tmp}/nginx-proxy;
    location / {{
      proxy_pass http://fake;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
      proxy_request_buffering off;
    }}
  }}
}}
""")
        nginx = subprocess.Popen(["nginx", "-c", nconf, "-p", tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(nginx); wait_port(nport)
        time.sleep(0.2)
        nginx_pids = [nginx.pid] + children(nginx.pid)

        targets = [
            ("upstream (direct)", f"http://127.0.0.1:{fport}/v1/chat/completions", None),
            ("proxyd", f"http://127.0.0.1:{pport}/v1/chat/completions", [proxyd.pid]),
            ("proxyd (think off)", f"http://127.0.0.1:{oport}/v1/chat/completions", [proxyd_off.pid]),
            ("nginx", f"http://127.0.0.1:{nport}/v1/chat/completions", nginx_pids),
        ]
        if floor:
            targets.insert(3, ("stack floor (C)", f"http://127.0.0.1:{lport}/v1/chat/completions", [floor.pid]))
            targets.insert(4, ("stack floor raw (C)", f"http://127.0.0.1:{rport}/v1/chat/completions", [floor_raw.pid]))
        # Interleave targets within each round so that noise on this shared machine hits all of
        # them alike; report each measure's median over the rounds.
        # The order rotates from round to round, so that no target always runs right after the
        # same neighbour (a run can leave the machine busier or quieter for the next one).
        samples = {}
        for stream in (False, True):
            for name, url, pids in targets:
                run_wrk(url, stream, 1, args.connections, tmp)  # warm-up, 1 s
        for round_index in range(args.rounds):
            shift = round_index % len(targets)
            for stream in (False, True):
                for name, url, pids in targets[shift:] + targets[:shift]:
                    before = cpu_seconds(pids) if pids else 0
                    r = run_wrk(url, stream, args.duration, args.connections, tmp)
                    after = cpu_seconds(pids) if pids else 0
                    r["cpu_us"] = (after - before) / r["requests"] * 1e6 if pids and r["requests"] else None
                    samples.setdefault((stream, name), []).append(r)
        rows = []
        for stream in (False, True):
            for name, url, pids in targets:
                runs = samples[(stream, name)]
                def med(key):
                    values = sorted(x[key] for x in runs if x[key] is not None)
                    return values[len(values) // 2] if values else None
                rows.append({"kind": "streamed (20 chunks)" if stream else "non-streamed", "target": name,
                             "rps": med("rps"), "p50": med("p50"), "p99": med("p99"), "cpu_us": med("cpu_us"),
                             "non2xx": sum(x["non2xx"] for x in runs), "rss_mb": peak_rss_mb(pids) if pids else None})
        print(f"wrk -t1 -c{args.connections} -d{args.duration}s, median of {args.rounds} interleaved rounds (order rotated each round); proxyd workers={args.workers}, nginx worker_processes={args.workers}; "
              "every answer has <think> reasoning; proxyd splits it (think split) unless marked off")
        print()
        print("| load | target | requests/s | p50 ms | p99 ms | proxy CPU µs/request | peak RSS MB | non-2xx |")
        print("|---|---|---:|---:|---:|---:|---:|---:|")
        for r in rows:
            cpu = f"{r['cpu_us']:.1f}" if r["cpu_us"] is not None else "–"
            rss = f"{r['rss_mb']:.1f}" if r["rss_mb"] is not None else "–"
            print(f"| {r['kind']} | {r['target']} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {cpu} | {rss} | {r['non2xx']} |")
        print()
        for kind in ("non-streamed", "streamed (20 chunks)"):
            p = next(r for r in rows if r["kind"] == kind and r["target"] == "proxyd")
            o = next(r for r in rows if r["kind"] == kind and r["target"] == "proxyd (think off)")
            print(f"{kind}: proxyd split/off requests/s = {p['rps'] / o['rps']:.2f}")
            n = next(r for r in rows if r["kind"] == kind and r["target"] == "nginx")
            line = f"{kind}: proxyd/nginx requests/s = {p['rps'] / n['rps']:.2f}"
            if p["cpu_us"] and n["cpu_us"]:
                line += f", CPU per request = {p['cpu_us'] / n['cpu_us']:.2f}x"
            print(line)
            for floor_name, label in (("stack floor (C)", "stack floor"), ("stack floor raw (C)", "stack floor raw")):
                f = next((r for r in rows if r["kind"] == kind and r["target"] == floor_name), None)
                if f and f["cpu_us"] and n["cpu_us"] and p["cpu_us"]:
                    print(f"{kind}: {label}/nginx requests/s = {f['rps'] / n['rps']:.2f}, CPU per request = {f['cpu_us'] / n['cpu_us']:.2f}x; "
                          f"proxyd/{label} CPU per request = {p['cpu_us'] / f['cpu_us']:.2f}x")
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try: p.wait(timeout=10)
            except subprocess.TimeoutExpired: p.kill()


if __name__ == "__main__":
    main()
