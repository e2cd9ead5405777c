#!/usr/bin/env python3
"""Webhook delivery: how fast one endpoint is sent its events, and how soon
after a change it hears of it. Against a real `scimitar serve` (release
build) on a fresh SQLite file (or PostgreSQL with `--database`), with a
receiver on 127.0.0.1 that answers 204 at once (keep-alive HTTP/1.1).

Two measurements:

- **backlog**: with the endpoints disabled, writers make `--events` changes
  (user creations over SCIM, 8 connections); then the endpoints are
  enabled and the time to deliver the whole backlog is timed: events per
  second per endpoint, and for all `--endpoints` together.
- **live**: the endpoints enabled, one writer makes `--live` changes one at
  a time; for each, the time from the writer's 201 to the receiver's
  request carrying its event (p50, p99).

Each endpoint must receive each event once, in sequence order; the script
says so, or what went wrong.

    cargo build --release -p scimitar
    bench/webhooks.py                             # 5000 events, 1 endpoint, SQLite
    bench/webhooks.py --endpoints 4
    bench/webhooks.py --database postgres://postgres@127.0.0.1/webhookbench

Only the standard library; everything runs on 127.0.0.1.
"""

import argparse
import http.client
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from serving import fresh_database, request, start

ADMIN_TOKEN = "bench-admin-token-" + "2" * 40


class Receiver:
    """Records, per path (one path per endpoint), each event's sequence
    number and when its request arrived; answers 204."""

    def __init__(self):
        self.got = {}
        self.lock = threading.Lock()
        got, lock = self.got, self.lock

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                at = time.perf_counter()
                event = json.loads(body)
                with lock:
                    got.setdefault(self.path, []).append((event["seq"], event, at))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_port}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def count(self, path):
        with self.lock:
            return len(self.got.get(path, []))

    def wait_for(self, paths, n, timeout):
        deadline = time.perf_counter() + timeout
        while any(self.count(p) < n for p in paths):
            if time.perf_counter() > deadline:
                return False
            time.sleep(0.002)
        return True


def cpu_seconds(pid):
    """The process's user and system time (all threads)."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_users(port, key, names):
    """POSTs a user per name on one connection; when each was acknowledged."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    auth = {"Authorization": f"Bearer {key}"}
    acked = {}
    for name in names:
        status, body = request(conn, "POST", "/scim/v2/Users", auth, {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": name, "displayName": name})
        assert status == 201, body
        acked[name] = time.perf_counter()
    return acked


def check_once_in_order(receiver, paths, expected):
    """What is wrong with what each endpoint got, or None."""
    for p in paths:
        seqs = [s for s, _, _ in receiver.got.get(p, [])]
        if seqs != expected:
            dup = len(seqs) - len(set(seqs))
            return (f"{p}: {len(seqs)} requests for {len(expected)} events, {dup} repeated, "
                    f"{'in' if seqs == sorted(seqs) else 'out of'} order")
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=5000, help="the backlog's size")
    ap.add_argument("--live", type=int, default=300, help="changes timed one at a time")
    ap.add_argument("--endpoints", type=int, default=1)
    ap.add_argument("--database", help="a PostgreSQL URL (its database is created)")
    ap.add_argument("--bin", default=os.environ.get("SCIMITAR_BIN", "target/release/scimitar"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="scimitar-webhook-bench.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMITAR_")}
    cli = fresh_database(args.bin, env, work, args.database)
    tenant = cli("tenant", "create", "--name", "Webhooks")["id"]
    key = cli("apikey", "create", "--tenant", tenant)["key"]
    receiver = Receiver()
    proc, port = start(args.bin, env, work, "server", "--admin-token", ADMIN_TOKEN,
                       "--webhook-allow-http", "127.0.0.1")
    try:
        admin = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        paths, ids = [], []
        for n in range(args.endpoints):
            path = f"/hooks/{n}"
            status, body = request(admin, "POST", "/admin/v1/webhook-endpoints", auth,
                                   {"url": receiver.base + path, "types": ["user.created"]})
            assert status == 201, body
            ids.append(json.loads(body)["id"])
            paths.append(path)

        def set_enabled(enabled):
            for id_ in ids:
                status, body = request(admin, "PATCH", f"/admin/v1/webhook-endpoints/{id_}",
                                       auth, {"enabled": enabled})
                assert status == 200, body

        # Backlog: made while disabled, delivered once enabled.
        set_enabled(False)
        writers = 8
        names = [f"backlog{i}@bench.example" for i in range(args.events)]
        threads = [threading.Thread(target=create_users, args=(port, key, names[w::writers]))
                   for w in range(writers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        begun, cpu = time.perf_counter(), cpu_seconds(proc.pid)
        set_enabled(True)
        drained = receiver.wait_for(paths, args.events, timeout=600)
        took = time.perf_counter() - begun
        cpu = cpu_seconds(proc.pid) - cpu
        where = "PostgreSQL" if args.database else "SQLite"
        print(f"{where}, {args.endpoints} endpoint(s), a backlog of {args.events} events each")
        if not drained:
            print(f"  not delivered within 600 s: {[receiver.count(p) for p in paths]}")
            return 1
        total = args.events * args.endpoints
        print(f"  backlog delivered in {took:.2f} s: {args.events / took:,.0f} events/s per "
              f"endpoint, {total / took:,.0f} events/s in all; server CPU "
              f"{cpu * 1000 / total:.3f} ms per delivery")

        # Live: one change at a time, each timed to its webhook.
        before = receiver.count(paths[0])
        names = [f"live{i}@bench.example" for i in range(args.live)]
        acked = {}
        for name in names:
            acked.update(create_users(port, key, [name]))
            time.sleep(0.01)
        receiver.wait_for(paths, before + args.live, timeout=60)
        lat = []
        with receiver.lock:
            for _, event, at in receiver.got[paths[0]][before:]:
                lat.append((at - acked[event["data"]["userName"]]) * 1000)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"  {args.live} changes one at a time, 201 → webhook request: "
              f"p50 {statistics.median(lat):.2f} ms, p99 {p99:.2f} ms, max {lat[-1]:.2f} ms")

        expected = sorted({s for s, _, _ in receiver.got[paths[0]]})
        wrong = check_once_in_order(receiver, paths, expected)
        if wrong is None and len(expected) == args.events + args.live:
            print("  every endpoint got every event once, in order")
        else:
            print(f"  WRONG: {wrong or f'{len(expected)} events for {args.events + args.live}'}")
            return 1
    finally:
        proc.terminate()
        proc.wait()
        receiver.httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
