#!/usr/bin/env python3
"""How soon the host application hears of a change: a follower long-polls
the event feed (`GET /app/v1/events?wait=25`) while a writer deprovisions
users one at a time over SCIM; for each, the time from the writer's 204/200
to the follower's answer carrying its `user.deprovisioned` event. Against
a real `scimitar serve` (release build) on a fresh SQLite file, or on
PostgreSQL with `--database postgres://…`, where `--processes 2` runs the
follower against another `serve` process than the writer's (the
LISTEN/NOTIFY path).

    cargo build --release -p scimitar
    bench/feed.py                               # 300 changes, SQLite
    bench/feed.py --database postgres://postgres@127.0.0.1/feedbench --processes 2

Only the standard library; servers run on 127.0.0.1.
"""

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time

from serving import fresh_database, request, start

APP_TOKEN = "bench-app-token-" + "1" * 40


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--changes", type=int, default=300)
    ap.add_argument("--database", help="a PostgreSQL URL (its database is created)")
    ap.add_argument("--processes", type=int, choices=(1, 2), default=1)
    ap.add_argument("--bin", default=os.environ.get("SCIMITAR_BIN", "target/release/scimitar"))
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix="scimitar-feed-bench.")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCIMITAR_")}
    cli = fresh_database(args.bin, env, work, args.database)
    tenant = cli("tenant", "create", "--name", "Feed")["id"]
    key = cli("apikey", "create", "--tenant", tenant)["key"]
    servers = [start(args.bin, env, work, "writer", "--app-token", APP_TOKEN)]
    if args.processes == 2:
        servers.append(start(args.bin, env, work, "follower", "--app-token", APP_TOKEN))
    writer_port, follower_port = servers[0][1], servers[-1][1]
    try:
        scim = http.client.HTTPConnection("127.0.0.1", writer_port, timeout=60)
        auth = {"Authorization": f"Bearer {key}"}
        users = []
        for i in range(args.changes):
            status, body = request(scim, "POST", "/scim/v2/Users", auth, {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": f"leaver{i}@bench.example", "displayName": f"Leaver {i}"})
            assert status == 201, body
            users.append(json.loads(body)["id"])

        feed = http.client.HTTPConnection("127.0.0.1", follower_port, timeout=60)
        app = {"Authorization": f"Bearer {APP_TOKEN}"}
        status, body = request(feed, "GET", "/app/v1/events?limit=1000", app)
        cursor = json.loads(body)["next"]
        while True:  # to the end of the outbox
            status, body = request(feed, "GET", f"/app/v1/events?after={cursor}&limit=1000", app)
            page = json.loads(body)
            if not page["events"]:
                break
            cursor = page["next"]

        heard = {}
        done = threading.Event()

        def follow():
            nonlocal cursor
            while not done.is_set():
                status, body = request(
                    feed, "GET",
                    f"/app/v1/events?after={cursor}&wait=25&types=user.deprovisioned", app)
                at = time.perf_counter()
                page = json.loads(body)
                for e in page["events"]:
                    heard[e["data"]["resourceId"]] = at
                cursor = page["next"]
                if len(heard) == len(users):
                    done.set()

        follower = threading.Thread(target=follow)
        follower.start()
        time.sleep(0.3)
        acked = {}
        for user in users:
            status, body = request(scim, "DELETE", f"/scim/v2/Users/{user}", auth)
            acked[user] = time.perf_counter()
            assert status == 204, body
            time.sleep(0.02)  # one change at a time, as a sync cycle's deletes
        follower.join(timeout=60)
        lat = sorted((heard[u] - acked[u]) * 1000 for u in users if u in heard)
        missing = len(users) - len(lat)
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        where = "PostgreSQL" if args.database else "SQLite"
        print(f"{where}, {args.processes} process(es), {len(users)} deprovisionings, "
              f"{missing} not heard")
        print(f"commit acknowledged → follower's answer: p50 {statistics.median(lat):.2f} ms, "
              f"p99 {p99:.2f} ms, max {lat[-1]:.2f} ms")
        print("(negative: the follower's answer came before the writer read its own 204)")
    finally:
        for proc, _ in servers:
            proc.terminate()
            proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
