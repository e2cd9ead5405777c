#!/usr/bin/env python3
"""The hardening benchmark: what one tenant's key, or a stranger, can cost
everyone else, measured against the real release binary on loopback.

    cargo build --release -p scimitar
    python3 bench/hardening.py [--bin target/release/scimitar] [--users 10000]

Each scenario prints one line; the figures of the last run are in
bench/README.md. Standard library only; nothing leaves 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Server:
    def __init__(self, binary, workdir, extra):
        os.makedirs(workdir, exist_ok=True)
        self.binary = binary
        self.db_path = os.path.join(workdir, "bench.db")
        self.db = "sqlite://" + self.db_path
        self.log = open(os.path.join(workdir, "server.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "serve", "--listen", "127.0.0.1:0", "--database", self.db,
             "--header-read-timeout-secs", "2", *extra],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            sys.exit(f"the server did not start: {line!r}")
        host, port = line.split()[-1].rsplit(":", 1)
        self.host, self.port = host, int(port)

    def cli(self, *args):
        out = subprocess.run([self.binary, *args, "--database", self.db],
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def request(self, method, path, key, body=None, headers=None, timeout=120):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        h = {"Authorization": f"Bearer {key}", "Content-Type": "application/scim+json"}
        h.update(headers or {})
        data = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        started = time.perf_counter()
        conn.request(method, path, body=data, headers=h)
        res = conn.getresponse()
        payload = res.read()
        elapsed = time.perf_counter() - started
        conn.close()
        return res.status, payload, elapsed

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def cpu_seconds(self):
        fields = open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def db_bytes(self):
        return sum(os.path.getsize(self.db_path + s) for s in ("", "-wal")
                   if os.path.exists(self.db_path + s))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def healthz_while(server, busy):
    """The slowest /healthz answer while `busy` runs."""
    worst = [0.0]
    done = threading.Event()

    def probe():
        while not done.is_set():
            started = time.perf_counter()
            conn = http.client.HTTPConnection(server.host, server.port, timeout=60)
            conn.request("GET", "/healthz")
            conn.getresponse().read()
            conn.close()
            worst[0] = max(worst[0], time.perf_counter() - started)
            time.sleep(0.01)

    t = threading.Thread(target=probe)
    t.start()
    result = busy()
    done.set()
    t.join()
    return result, worst[0]


def log_size(db_path):
    """Rows of the provisioning log and the bytes of text they hold."""
    import sqlite3
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows, stored = conn.execute(
        "SELECT count(*), coalesce(sum(length(path) + length(request_id) + "
        "coalesce(length(detail), 0) + coalesce(length(ignored), 0)), 0) "
        "FROM provisioning_log").fetchone()
    conn.close()
    return rows, stored


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/scimitar")
    ap.add_argument("--users", type=int, default=10_000)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="scimitar-hardening-")
    server = Server(args.bin, work, ["--rate-limit-per-second", "0"])
    a = server.cli("tenant", "create", "--name", "A")["id"]
    b = server.cli("tenant", "create", "--name", "B")["id"]
    key_a = server.cli("apikey", "create", "--tenant", a)["key"]
    key_b = server.cli("apikey", "create", "--tenant", b)["key"]
    group_a = server.cli("group", "create", "--tenant", a, "--name", "All")["id"]
    base = "/scim/v2"

    # 1. 200,000 phone numbers in one POST (1.4 MB).
    body = json.dumps({"userName": "p@example.com", "displayName": "P",
                       "phoneNumbers": list(range(200_000))}).encode()
    (status, _, took), worst = healthz_while(
        server, lambda: server.request("POST", f"{base}/Users", key_a, body))
    print(f"phones: POST of 200,000 numbers ({len(body) / 1e6:.1f} MB) -> {status} in {ms(took)}; "
          f"slowest /healthz meanwhile {ms(worst)}")

    # 2. A 4 MB .search listing one attribute again and again.
    names = ["userName"] * 340_000
    body = json.dumps({"attributes": names}).encode()
    status, _, took = server.request("POST", f"{base}/Users/.search", key_a, body)
    print(f"search: .search with {len(names)} attribute names ({len(body) / 1e6:.1f} MB) -> "
          f"{status} in {ms(took)}")

    # Tenant A's users, for the member scenarios.
    ids = []
    started = time.perf_counter()
    lock = threading.Lock()

    def create(chunk):
        for i in chunk:
            s, payload, _ = server.request("POST", f"{base}/Users", key_a,
                                           {"userName": f"u{i}@a.example", "displayName": f"U {i}"})
            if s == 201:
                with lock:
                    ids.append(json.loads(payload)["id"])

    threads = [threading.Thread(target=create, args=(range(k, args.users, 8),)) for k in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    print(f"setup: {len(ids)} users of tenant A in {time.perf_counter() - started:.1f} s")
    members = [{"value": i} for i in ids[:5_000]]

    # 3. Member changes: add alone, add+remove the same ids, and too many.
    def member_patch(ops):
        return server.request("PATCH", f"{base}/Groups/{group_a}", key_a,
                              {"schemas": [PATCH], "Operations": ops})
    remove = {"op": "remove", "path": "members", "value": members}
    add = {"op": "add", "path": "members", "value": members}
    half = len(members) // 2
    _, _, t_add = member_patch([add])
    member_patch([remove])
    _, _, t_both = member_patch([dict(add, value=members[:half]), dict(remove, value=members[:half])])
    _, _, t_half_add = member_patch([dict(add, value=members[:half])])
    _, _, t_half_remove = member_patch([dict(remove, value=members[:half])])
    too_many = [{"value": f"x{i}"} for i in range(40_000)]
    s_many, _, t_many = member_patch([{"op": "add", "path": "members", "value": too_many},
                                      {"op": "remove", "path": "members", "value": too_many}])
    print(f"members: add {len(members)} ids {ms(t_add)}; add+remove the same {half} in one request "
          f"{ms(t_both)} vs its halves {ms(t_half_add + t_half_remove)}; 40,000 + 40,000 ids -> "
          f"{s_many} in {ms(t_many)}")

    # 4. Fairness: tenant A runs 8 bulk member changes at once, again and
    # again; tenant B changes one user at a time.
    user_b = json.loads(server.request("POST", f"{base}/Users", key_b,
                                       {"userName": "b@b.example", "displayName": "B"})[1])["id"]

    def b_latencies(seconds):
        out, stop = [], time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < stop:
            n += 1
            s, _, took = server.request("PATCH", f"{base}/Users/{user_b}", key_b,
                                        {"schemas": [PATCH], "Operations": [
                                            {"op": "replace", "path": "title", "value": f"t{n}"}]})
            assert s == 200, s
            out.append(took)
            time.sleep(0.02)
        return out

    alone = b_latencies(3)
    stop = threading.Event()
    bulk_times = []

    def bulk():
        flip = True
        while not stop.is_set():
            op = add if flip else remove
            _, _, took = member_patch([op])
            bulk_times.append(took)
            flip = not flip

    threads = [threading.Thread(target=bulk) for _ in range(8)]
    [t.start() for t in threads]
    time.sleep(1)
    loaded = b_latencies(10)
    stop.set()
    [t.join() for t in threads]

    def pct(xs, p):
        return sorted(xs)[min(len(xs) - 1, int(len(xs) * p))]
    print(f"fairness: tenant B's single PATCH alone p50 {ms(statistics.median(alone))}, "
          f"max {ms(max(alone))}; while tenant A runs 8 concurrent {len(members)}-member "
          f"changes (each {ms(statistics.median(bulk_times))} median): p50 "
          f"{ms(statistics.median(loaded))}, p99 {ms(pct(loaded, 0.99))}, max {ms(max(loaded))} "
          f"over {len(loaded)} requests")

    # 5. The log flood: 4 threads with 60 KB paths and 300 KB request ids, past
    # a limit of 20 requests a second (most are refused with 429), for 10 s.
    server.stop()
    server = Server(args.bin, os.path.join(work, "flood"),
                    ["--rate-limit-per-second", "20", "--rate-limit-burst", "20"])
    flooder = server.cli("tenant", "create", "--name", "Flood")["id"]
    key_a = server.cli("apikey", "create", "--tenant", flooder)["key"]
    before = server.db_bytes()
    stop = threading.Event()
    sent = [0]
    path = f"{base}/Users?filter=" + "x" * 60_000

    def flood():
        while not stop.is_set():
            server.request("GET", path, key_a, headers={"x-request-id": "r" * 300_000})
            sent[0] += 1

    threads = [threading.Thread(target=flood) for _ in range(4)]
    [t.start() for t in threads]
    time.sleep(10)
    stop.set()
    [t.join() for t in threads]
    time.sleep(2)  # the log's batches and summaries are written
    grown = server.db_bytes() - before
    rows, stored = log_size(server.db_path)
    print(f"log flood: {sent[0]} requests in 10 s (60 KB paths, 300 KB request ids) -> "
          f"{rows} log rows holding {stored / 1e6:.2f} MB of text; database files grew "
          f"{grown / 1e6:.1f} MB")

    # 6. Slow clients: 500 connections that never finish their headers.
    fds_before = server.fds()
    socks = []
    for _ in range(500):
        s = socket.create_connection((server.host, server.port))
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        socks.append(s)
    time.sleep(0.5)
    fds_during = server.fds()
    time.sleep(3)
    closed = 0
    for s in socks:
        s.settimeout(0.1)
        try:
            if s.recv(1) == b"":
                closed += 1
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
    fds_after = server.fds()
    started = time.perf_counter()
    server.proc.terminate()
    server.proc.wait(timeout=60)
    print(f"slow clients: 500 half-sent requests: server fds {fds_before} -> {fds_during} -> "
          f"{fds_after} after the 2 s header timeout ({closed} closed by the server); "
          f"SIGTERM to exit {ms(time.perf_counter() - started)}")


if __name__ == "__main__":
    main()
