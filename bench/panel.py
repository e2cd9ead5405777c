#!/usr/bin/env python3
"""The admin panel's page cost at tenant size: the Groups page of a tenant
with 10,000 groups and the Users page of one with 100,000 users, each the
first page, a page deep in the list, and a search, timed one request at a
time over loopback against a real `scimitar serve` (release build) on a
fresh SQLite file. Also reports the server's CPU time per page (from
/proc) and its peak memory.

    cargo build --release -p scimitar
    bench/panel.py                       # 100,000 users, 10,000 groups
    bench/panel.py --users 1000 --groups 100 --requests 50

Only the standard library; the server runs on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

TOKEN = "bench-admin-token-" + "0" * 40
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


class Client:
    """One keep-alive connection."""

    def __init__(self, port, headers=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.headers = headers or {}

    def request(self, method, path, body=None, headers=None):
        h = dict(self.headers)
        h.update(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=data, headers=h)
        resp = self.conn.getresponse()
        payload = resp.read()
        return resp.status, resp.getheaders(), payload


def parallel(n, threads, make_client, work):
    """Runs work(client, i) for i in range(n) on `threads` connections."""
    counter = iter(range(n))
    lock = threading.Lock()
    errors = []

    def run():
        client = make_client()
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            try:
                work(client, i)
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--groups", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--bin", default=os.environ.get("SCIMITAR_BIN", "target/release/scimitar"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="scimitar-panel-bench.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMITAR_")}
    env["SCIMITAR_DATABASE_URL"] = f"sqlite://{work}/bench.db"
    cli = lambda *a: json.loads(subprocess.check_output([args.bin, *a], env=env))  # noqa: E731
    subprocess.check_call([args.bin, "migrate"], env=env, stderr=subprocess.DEVNULL)
    tenant = cli("tenant", "create", "--name", "Bench")["id"]
    key = cli("apikey", "create", "--tenant", tenant)["key"]
    out = open(f"{work}/server.out", "w")
    server = subprocess.Popen(
        [args.bin, "serve", "--listen", "127.0.0.1:0", "--admin-token", TOKEN,
         "--rate-limit-per-second", "0"],
        env=env, stdout=out, stderr=subprocess.DEVNULL)
    try:
        port = None
        for _ in range(200):
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(f"{work}/server.out").read())
            if m:
                port = int(m.group(1))
                break
            time.sleep(0.05)
        assert port, "the server did not start"

        started = time.time()
        scim = lambda: Client(port, {"Authorization": f"Bearer {key}"})  # noqa: E731

        def user(client, i):
            status, _, body = client.request("POST", "/scim/v2/Users", {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"user{i:06d}@bench.example",
                "displayName": f"User {i}",
            })
            assert status == 201, body

        parallel(args.users, 8, scim, user)
        admin = lambda: Client(port, {"Authorization": f"Bearer {TOKEN}"})  # noqa: E731

        def group(client, i):
            status, _, body = client.request(
                "POST", f"/admin/v1/tenants/{tenant}/groups",
                {"displayName": f"Group {i:05d}", "externalId": f"obj-{i:05d}"})
            assert status == 201, body

        parallel(args.groups, 8, admin, group)
        print(f"seeded {args.users} users and {args.groups} groups in "
              f"{time.time() - started:.1f} s")

        status, _, body = admin().request(
            "POST", f"/admin/v1/tenants/{tenant}/portal-links", {})
        link = urllib.parse.urlsplit(json.loads(body)["url"]).path
        status, headers, _ = Client(port).request("GET", link)
        cookie = dict(headers)["set-cookie"].split(";")[0]
        panel = Client(port, {"Cookie": cookie})

        t = f"/admin/t/{tenant}"
        mid_g, mid_u = args.groups // 2, args.users // 2
        pages = [
            ("Groups, first page", f"{t}/groups"),
            ("Groups, page at the middle",
             f"{t}/groups?after=Group+{mid_g:05d}&after_id=00000000-0000-4000-8000-000000000000"),
            ("Groups, search by name", f"{t}/groups?q=Group+0{mid_g // 1000}"),
            ("Groups, search by Group ID", f"{t}/groups?q=obj-{mid_g:05d}"),
            ("Users, first page", f"{t}/users"),
            ("Users, page at the middle", f"{t}/users?after=user{mid_u:06d}@bench.example"),
            ("Users, search by userName", f"{t}/users?q=user0{mid_u // 10000}"),
            ("Provisioning log, first page", f"{t}/log"),
            ("Sync health", f"{t}/health"),
        ]
        print(f"\n{args.requests} requests each, one at a time; milliseconds\n")
        print(f"| page | p50 | p99 | server CPU per page | rows |")
        print("| --- | --- | --- | --- | --- |")
        for name, path in pages:
            times = []
            before = cpu_seconds(server.pid)
            for _ in range(args.requests):
                t0 = time.perf_counter()
                status, _, body = panel.request("GET", path)
                times.append((time.perf_counter() - t0) * 1000)
                assert status == 200, (path, status, body[:300])
            cpu = (cpu_seconds(server.pid) - before) / args.requests * 1000
            rows = max(body.count(b"<tr") - 1, 0) if b"<table" in body else "—"
            times.sort()
            p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
            print(f"| {name} | {statistics.median(times):.2f} | {p99:.2f} | {cpu:.2f} | {rows} |")
        print(f"\npeak server RSS: {peak_rss_mb(server.pid):.0f} MB")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
