"""What the event benchmarks (feed.py, webhooks.py) share: a fresh
database, `scimitar serve` on 127.0.0.1, and one HTTP request on a kept
connection. Only the standard library."""

import json
import re
import subprocess
import time


def fresh_database(bin_, env, work, database=None):
    """Points `env` at a new database — the PostgreSQL URL `database`
    (dropped and created again), or a SQLite file in `work` — and migrates
    it; returns a function running the CLI on it and parsing its JSON."""
    if database:
        admin_url, name = database.rsplit("/", 1)
        for sql in (f"DROP DATABASE IF EXISTS {name}", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", f"{admin_url}/postgres", "-qc", sql],
                           check=True, capture_output=True)
        env["SCIMITAR_DATABASE_URL"] = database
    else:
        env["SCIMITAR_DATABASE_URL"] = f"sqlite://{work}/bench.db"
    subprocess.check_call([bin_, "migrate"], env=env, stderr=subprocess.DEVNULL)
    return lambda *a: json.loads(subprocess.check_output([bin_, *a], env=env))


def start(bin_, env, work, name, *args):
    """`scimitar serve` on a free port, without a rate limit; the process
    and its port."""
    out_path = f"{work}/{name}.out"
    out = open(out_path, "w")
    proc = subprocess.Popen(
        [bin_, "serve", "--listen", "127.0.0.1:0", "--rate-limit-per-second", "0", *args],
        env=env, stdout=out, stderr=subprocess.DEVNULL)
    for _ in range(200):
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", open(out_path).read())
        if m:
            return proc, int(m.group(1))
        time.sleep(0.05)
    raise SystemExit("the server did not start")


def request(conn, method, path, headers, body=None):
    """One request on `conn`; its status and body."""
    data = json.dumps(body).encode() if body is not None else None
    if data:
        headers = dict(headers, **{"Content-Type": "application/scim+json"})
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()
