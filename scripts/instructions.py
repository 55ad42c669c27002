#!/usr/bin/env python3
"""Instructions per request, counted by callgrind (deterministic, unlike time on a shared
machine): proxyd runs under valgrind in front of the fake upstream; after a warm-up its counters
are zeroed, wrk sends a bounded load, and the dump's total is divided by the requests wrk made.

Loads: `plain` (non-streamed, no reasoning, think off), `think` (non-streamed <think> answer,
split), `stream-split` and `stream-off` (20-chunk <think> streams). Release build; loopback only.
Usage: scripts/instructions.py [--binaries DIR] [--seconds S] [--runs N] [load ...]
"""
import argparse, glob, json, os, re, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import REL, free_port, wait_port, stop_all  # noqa: E402

LOADS = {
    "plain": ("off", False, None),
    "think": ("split", False, "The user wants a greeting."),
    "stream-split": ("split", True, "The user wants a greeting."),
    "stream-off": ("off", True, "The user wants a greeting."),
}


def lua(stream, think):
    s = ['wrk.method = "POST"',
         f"wrk.body = '{{\"model\":\"fake-model\",\"stream\":{'true' if stream else 'false'},"
         "\"messages\":[{\"role\":\"user\",\"content\":\"Say hello.\"}]}'",
         'wrk.headers["Content-Type"] = "application/json"',
         'wrk.headers["x-fake-chunks"] = "20"']
    if think:
        s.append(f'wrk.headers["x-fake-think"] = "{think}"')
    return "\n".join(s) + "\n"


def wrk(url, script, seconds, connections=4):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 60).stdout
    return int(re.search(r"(\d+) requests in", out).group(1))


def measure(binaries, load, seconds, tmp, connections=4):
    mode, stream, think = LOADS[load]
    procs = []
    try:
        fport = free_port()
        procs.append(subprocess.Popen([os.path.join(binaries, "fake-upstream"), "--listen", f"127.0.0.1:{fport}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_port(fport)
        cfg = os.path.join(tmp, f"{load}.json")
        with open(cfg, "w") as f:
            json.dump({"inheritDefaults": False, "log": {"access": False, "level": "warn"}, "think": {"mode": mode},
                       "server": {"workers": 1},
                       "providers": {"fake": {"baseUrl": f"http://127.0.0.1:{fport}", "allowedPaths": ["/v1/*"],
                                              "models": ["fake-model"]}}}, f)
        pport = free_port()
        out = os.path.join(tmp, f"cg-{load}.out")
        vg = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
                               os.path.join(binaries, "proxyd"), "serve", "--config", cfg, "--listen", f"127.0.0.1:{pport}"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(vg)
        wait_port(pport, deadline=60)
        script = os.path.join(tmp, f"{load}.lua")
        with open(script, "w") as f:
            f.write(lua(stream, think))
        url = f"http://127.0.0.1:{pport}/v1/chat/completions"
        wrk(url, script, 2, connections)  # warm-up: pools, buffers, caches
        subprocess.run(["callgrind_control", "-z", str(vg.pid)], capture_output=True, timeout=60)
        requests = wrk(url, script, seconds, connections)
        for f in glob.glob(out + "*"):
            os.remove(f)
        subprocess.run(["callgrind_control", "-d", str(vg.pid)], capture_output=True, timeout=60)
        total = 0
        for path in glob.glob(out + "*"):
            with open(path) as f:
                for line in f:
                    if line.startswith("totals:") or line.startswith("summary:"):
                        total = max(total, int(line.split()[1]))
        return total / requests, requests, out
    finally:
        stop_all(procs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binaries", default=REL)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--connections", type=int, default=4, help="wrk connections (1: one request at a time, the steadiest count)")
    ap.add_argument("loads", nargs="*", default=list(LOADS))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="proxyd-cg-")
    for load in args.loads:
        per = []
        for _ in range(args.runs):
            n, requests, dump = measure(args.binaries, load, args.seconds, tmp, args.connections)
            per.append(n)
            print(f"{load:13s} {n / 1000:8.1f}K instructions/request  ({requests} requests; {dump}.*)", flush=True)
        if args.runs > 1:
            per.sort()
            print(f"{load:13s} median {per[len(per) // 2] / 1000:.1f}K")


if __name__ == "__main__":
    main()
