"""Ratios of scimitar to its peers, from scimitar-bench's --json reports.

    python3 summary.py SCIMITAR.json PEER.json [SCIMITAR.json PEER.json ...]

Each peer is compared with the scimitar run made just before it. Two ratios
per phase: throughput (scimitar req/s over the peer's) and server CPU time
per request (the peer's over scimitar's); the second depends less on what
else the machine is doing. Phases either side could not serve are listed,
never turned into a number.
"""

import json
import math
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def ratio(a, b):
    if a is None or b is None or a <= 0 or b <= 0:
        return None
    return a / b


def fmt(r):
    if r is None:
        return "n/a"
    return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"


def geomean(values):
    values = [v for v in values if v is not None]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def compare(ours, theirs):
    peer = theirs["target"]
    print(f"\n### scimitar vs {peer}\n")
    print(
        f"{ours['users']} users, {ours['requests']} requests per phase, "
        f"concurrency {ours['concurrency']}; load average "
        f"{ours['load_before']} (scimitar), {theirs['load_before']} ({peer})\n"
    )
    print(f"| phase | scimitar req/s | {peer} req/s | throughput | CPU/request |")
    print("| --- | ---: | ---: | ---: | ---: |")
    theirs_by_key = {p["key"]: p for p in theirs["phases"]}
    speed, cpu, missing = [], [], []
    for p in ours["phases"]:
        q = theirs_by_key.get(p["key"], {"na": "not run"})
        if "na" in p or "na" in q:
            reason = p.get("na") or q.get("na")
            who = "scimitar" if "na" in p else peer
            missing.append(f"{p['key']} ({who}: {reason})")
            print(f"| {p['name']} | {p.get('req_per_s', 0):.0f} | n/a | n/a | n/a |"
                  if "na" not in p else f"| {p['name']} | n/a | n/a | n/a | n/a |")
            continue
        s = ratio(p["req_per_s"], q["req_per_s"])
        c = ratio(q.get("server_cpu_ms_per_req"), p.get("server_cpu_ms_per_req"))
        speed.append(s)
        cpu.append(c)
        print(f"| {p['name']} | {p['req_per_s']:.0f} | {q['req_per_s']:.0f} | {fmt(s)} | {fmt(c)} |")
    mem = ratio(theirs.get("peak_rss_mib"), ours.get("peak_rss_mib"))
    line = (
        f"summary: scimitar vs {peer}: throughput {fmt(geomean(speed))} (geometric mean of "
        f"{len([s for s in speed if s])} phases, range {fmt(min(filter(None, speed), default=None))}"
        f"–{fmt(max(filter(None, speed), default=None))}), server CPU per request "
        f"{fmt(geomean(cpu))} less, peak RSS {fmt(mem)} less"
    )
    if missing:
        line += f"; n/a: {'; '.join(missing)}"
    return line


def main(paths):
    if len(paths) % 2:
        sys.exit("give pairs: SCIMITAR.json PEER.json")
    lines = [compare(load(a), load(b)) for a, b in zip(paths[::2], paths[1::2])]
    print()
    for line in lines:
        print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
