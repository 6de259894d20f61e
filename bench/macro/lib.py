#!/usr/bin/python3
"""Helpers for bench/macro/run.sh: run and measure commands, parse tool output,
compute recorded hashes, and print the results table.

Every measurement is one JSON object per line in a results file (JSONL):
  id        unique name of the row ("sluice.large_mem", "curl.small", ...)
  workload  large_mem | large_file | put | small | net
  kind      sluice | ceiling | peer
  label     what ran, as printed in the table
  server    nginx | s3rver | loopback | disk
  vs        (ceilings and peers) the id of the sluice row it is compared with
  status    ok | failed | n/a
  reason    why failed / n/a
  seconds, bytes, requests, cpu_s, max_rss   measured figures
  p50_ms, p99_ms, errors, memory_budget       sluice only
  unit      "B/s" or "req/s": which figure the row is judged by

Subcommands:
  freeport                                  print a free TCP port on 127.0.0.1
  run  --results F --id ... -- CMD...       run CMD (best of --reps; run.sh runs one per round), record it
  na   --results F --id ... --reason R      record an n/a (or failed) row
  recorded-hash FILE PART                   the sluice-xxh3 value of FILE (PART 0: whole)
  patterned FILE SIZE PART                  write FILE: one random PART repeated to SIZE,
                                            print its sluice-xxh3 value (composite)
  wait-port PORT SECONDS                    wait until 127.0.0.1:PORT accepts
  report --results F [--title T] [--json-out J]
                                            print the table and the targets (a target is met when
                                            the ratio of the medians meets it; the ratio in each
                                            round is shown too), J: the same as JSON;
                                            exit 1 if any row failed
  median --rounds F --results F2            one record per id of F's rounds ("ID#N"),
                                            each figure the median over the rounds, with
                                            round_figures, min and max of the row's own figure
                                            and the largest peak RSS, into F2
  checksum OUT EXPECTED                     the JSON line in OUT has checksum == EXPECTED

Array rows (workloads array_read, array_sel, array_write) also carry stored_bytes,
stored_throughput, destination_bytes (the caller's buffer), array_budget, checksum,
server_requests and server_methods (lines nginx logged during the run), and for
the selection's ceiling the plan: shards, spans, expected_read_requests.
"""

import argparse
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import time

MIB = 1 << 20
GIB = 1 << 30


# ---------------------------------------------------------------- utilities

def free_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def xxh3_hex(data=None, path=None):
    """XXH3-64 as 16 hex digits, computed by xxhsum (Debian package xxhash)."""
    if path is not None:
        out = subprocess.run(["xxhsum", "-H3", path], check=True, capture_output=True, text=True).stdout
    else:
        out = subprocess.run(["xxhsum", "-H3"], input=data, check=True, capture_output=True).stdout.decode()
    # "XXH3 (name) = 0123456789abcdef"
    return out.strip().rsplit("=", 1)[1].strip().rjust(16, "0")


def composite_hex(part_hashes_hex, part_size):
    """integrity::composite_of: XXH3 of the part hashes (LE u64 each) then the part size (LE u64)."""
    blob = b"".join(struct.pack("<Q", int(h, 16)) for h in part_hashes_hex) + struct.pack("<Q", part_size)
    return xxh3_hex(data=blob)


def recorded_hash(path, part):
    if part == 0:
        return xxh3_hex(path=path)
    hashes = []
    with open(path, "rb") as f:
        while True:
            chunk = f.read(part)
            if not chunk and hashes:
                break
            hashes.append(xxh3_hex(data=chunk))
            if len(chunk) < part:
                break
    return "%s/%d" % (composite_hex(hashes, part), part)


def patterned(path, size, part):
    """Writes `size` bytes: one random `part`-byte pattern repeated (the last copy cut short).
    Returns the recorded value for that content and part size."""
    pattern = os.urandom(part)
    full, tail = divmod(size, part)
    with open(path, "wb") as f:
        for _ in range(full):
            f.write(pattern)
        if tail:
            f.write(pattern[:tail])
    hashes = [xxh3_hex(data=pattern)] * full
    if tail or not hashes:
        hashes.append(xxh3_hex(data=pattern[:tail]))
    return "%s/%d" % (composite_hex(hashes, part), part)


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, div in (("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if abs(n) >= div:
            return "%.1f %s" % (n / div, unit) if n / div < 100 else "%.0f %s" % (n / div, unit)
    return "%d B" % n


def fmt_rate(bps):
    if bps is None:
        return "-"
    if bps >= GIB:
        return "%.2f GiB/s" % (bps / GIB)
    return "%.0f MiB/s" % (bps / MIB)


def fmt_rps(rps):
    return "-" if rps is None else "%.0f req/s" % rps


# ---------------------------------------------------------------- parsers
# Each returns a dict of figures taken from the command's stdout, or raises.

def parse_sluice(text):
    line = [l for l in text.splitlines() if l.strip().startswith("{")][-1]
    d = json.loads(line)
    out = {
        "seconds": d.get("seconds"),
        "bytes": d.get("bytes"),
        "requests": d.get("objects"),
        "throughput": d["throughput_bytes_per_s"],
        "rps": d["requests_per_s"],
        "p50_ms": d["p50_ms"],
        "p99_ms": d["p99_ms"],
        "cpu_s_per_gib": d["cpu_s_per_gib"],
        "max_rss": d["peak_rss_bytes"],
        "errors": d["errors"],
        "memory_budget": d.get("memory_budget"),
        "http_requests": d.get("http_requests"),
        "connections": d.get("connections"),
    }
    for k in ("integrity_errors", "refetched_parts", "body_bytes_copied"):
        if k in d:
            out[k] = d[k]
    return out


def parse_iperf3(text):
    d = json.loads(text)
    if "error" in d:
        raise ValueError("iperf3: " + d["error"])
    end = d["end"]
    bps = end["sum_received"]["bits_per_second"] / 8
    return {"throughput": bps, "seconds": end["sum_received"]["seconds"], "bytes": end["sum_received"]["bytes"]}


def parse_fio(text):
    # fio may print warnings before the JSON document.
    d = json.loads(text[text.index("{"):])
    job = d["jobs"][0]
    if job.get("error"):
        raise ValueError("fio job error %s" % job["error"])
    w = job["write"]
    return {"throughput": float(w["bw_bytes"]), "bytes": w["io_bytes"], "seconds": w["runtime"] / 1000.0}


def parse_wrk(text):
    # The harness's Lua done() prints one JSON line.
    line = [l for l in text.splitlines() if l.startswith("{\"wrk\"")][-1]
    d = json.loads(line)
    secs = d["duration_us"] / 1e6
    if d["requests"] == 0:
        raise ValueError("wrk completed no request")
    if d["errors"] > 0:
        raise ValueError("wrk saw %d errors (non-2xx, timeouts, socket errors)" % d["errors"])
    return {"throughput": d["bytes"] / secs, "rps": d["requests"] / secs, "seconds": secs,
            "bytes": d["bytes"], "requests": d["requests"], "errors": d["errors"]}


def parse_array(text):
    # sluice_array_bench and bench/macro/zarrita_array.mjs print one JSON line.
    line = [l for l in text.splitlines() if l.strip().startswith("{")][-1]
    d = json.loads(line)
    out = {
        "seconds": d["seconds"],
        "bytes": d["decoded_bytes"],
        "throughput": d["decoded_bytes_per_s"],
        "cpu_s_per_gib": d["cpu_s_per_gib"],
        "max_rss": d["peak_rss_bytes"],
        "destination_bytes": d.get("destination_bytes"),
        "checksum": d.get("checksum"),
        "window": d.get("window"),
        "errors": 0,
    }
    if "stored_bytes" in d:
        out["stored_bytes"] = d["stored_bytes"]
        out["stored_throughput"] = d["stored_bytes_per_s"]
    if "http_requests" in d:
        out["requests"] = d["http_requests"]
    if "memory_budget" in d:
        out["array_budget"] = d["memory_budget"]
    for k in ("checksum_selection", "shards", "spans", "span_bytes", "expected_gets", "expected_read_requests"):
        if k in d:
            out[k] = d[k]
    return out


PARSERS = {"array": parse_array, "sluice": parse_sluice, "iperf3": parse_iperf3, "fio": parse_fio, "wrk": parse_wrk}


# ---------------------------------------------------------------- run

def run_once(cmd, timeout, stdout_path, stderr_path, cwd=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    with open(stdout_path, "wb") as out, open(stderr_path, "ab") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            timed_out = True
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(p.pid, sig)
                except ProcessLookupError:
                    pass
                try:
                    p.wait(timeout=3)
                    break
                except subprocess.TimeoutExpired:
                    continue
            rc = -1
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # ru_maxrss of RUSAGE_CHILDREN: the largest waited-for descendant so far (KiB).
    return {"rc": rc, "timed_out": timed_out, "wall": wall, "cpu_s": cpu, "max_rss": after.ru_maxrss * 1024}


def tail(path, n=3):
    try:
        with open(path, "rb") as f:
            lines = [l.strip() for l in f.read().decode(errors="replace").splitlines() if l.strip()]
        return " | ".join(lines[-n:])[-300:]
    except OSError:
        return ""


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


def append(results, rec):
    with open(results, "a") as f:
        f.write(json.dumps(rec) + "\n")


def cmd_run(a):
    rec = {"id": a.id, "workload": a.workload, "kind": a.kind, "label": a.label, "server": a.server,
           "vs": a.vs, "unit": a.unit, "note": a.note}
    best = None
    stdout_path = os.path.join(a.logdir, a.id + ".out")
    stderr_path = os.path.join(a.logdir, a.id + ".err")
    t_start = time.monotonic()
    reps = 0
    failure = None
    for rep in range(a.reps):
        # Repeat while the repetitions fit the step's budget.
        if rep > 0 and time.monotonic() - t_start > a.rep_budget:
            break
        if a.before:
            subprocess.run(["bash", "-c", a.before], check=False)
        logged = count_lines(a.access_log) if a.access_log else 0
        r = run_once(a.command, a.timeout, stdout_path + ".tmp", stderr_path)
        reps += 1
        if r["timed_out"]:
            failure = "timed out after %ds" % a.timeout
            break
        if r["rc"] != 0:
            failure = "exit status %d: %s" % (r["rc"], tail(stderr_path) or tail(stdout_path + ".tmp"))
            break
        fig = {}
        if a.check:
            c = subprocess.run(["bash", "-c", a.check], env=dict(os.environ, OUT=stdout_path + ".tmp"),
                               capture_output=True, text=True)
            if c.returncode != 0:
                failure = "check failed: %s" % ((c.stdout + c.stderr).strip()[-200:] or a.check)
                break
        if a.parse != "none":
            try:
                with open(stdout_path + ".tmp", errors="replace") as f:
                    fig = PARSERS[a.parse](f.read())
            except Exception as e:  # noqa: BLE001 - any parse failure fails the step
                failure = "cannot read %s output: %s (%s)" % (a.parse, e, tail(stdout_path + ".tmp"))
                break
        else:
            fig = {"seconds": r["wall"], "bytes": a.bytes, "requests": a.requests,
                   "throughput": a.bytes / r["wall"] if a.bytes else None,
                   "rps": a.requests / r["wall"] if a.requests else None}
        if a.parse in ("none",):
            fig["cpu_s"] = r["cpu_s"]
            fig["max_rss"] = r["max_rss"]
            if a.bytes:
                fig["cpu_s_per_gib"] = r["cpu_s"] / (a.bytes / GIB)
        window = fig.pop("window", None)
        if a.access_log:
            # Lines "$msec METHOD STATUS BYTES RANGE": the run's, and of those, when the tool says
            # when its timed part ran (window), the ones nginx finished within it ($msec is cut to
            # milliseconds: a millisecond of slack before).
            methods = {}
            with open(a.access_log, errors="replace") as f:
                for line in f.readlines()[logged:]:
                    parts = line.split(" ", 2)
                    if window and not (window[0] - 0.001 <= float(parts[0]) <= window[1] + 0.001):
                        continue
                    methods[parts[1]] = methods.get(parts[1], 0) + 1
            fig["server_requests"] = sum(methods.values())
            fig["server_methods"] = methods
        os.replace(stdout_path + ".tmp", stdout_path + (".%d" % rep if a.reps > 1 else ""))
        key = fig.get("rps") if a.unit == "req/s" else fig.get("throughput")
        if best is None or (key or 0) > (best.get("rps" if a.unit == "req/s" else "throughput") or 0):
            best = fig
    if failure:
        rec.update({"status": "failed", "reason": failure})
        print("  FAILED  %-34s %s" % (a.label, failure), file=sys.stderr)
    else:
        rec.update(best)
        rec.update({"status": "ok", "reps": reps})
        if a.kind == "sluice" and best.get("errors"):
            rec["status"] = "failed"
            rec["reason"] = "%d errors" % best["errors"]
        fig = fmt_rps(best.get("rps")) if a.unit == "req/s" else fmt_rate(best.get("throughput"))
        print("  ok      %-34s %s" % (a.label, fig), file=sys.stderr)
    append(a.results, rec)
    return 0 if rec["status"] == "ok" else 1


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


def round_of(rec_id):
    return int(rec_id.split("#")[1]) if "#" in rec_id else 1


def median_note(r):
    """'median of N, min X, max Y' of a row's own figure (throughput or request rate)."""
    text = "median of %d" % r["rounds"]
    if r.get("status") == "ok" and r.get("min") is not None:
        fmt = fmt_rps if r.get("unit") == "req/s" else fmt_rate
        text += ", min %s, max %s" % (fmt(r["min"]).strip(), fmt(r["max"]).strip())
    return text


def cmd_median(a):
    """Collapses rounds ("ID#N" records) into one record per ID: every numeric figure the median
    over the rounds (each figure on its own), the rest from the first round. The row's own figure
    (throughput or request rate) also keeps its value in every round (round_figures, in round
    order) and its min and max; the peak RSS is the largest of the rounds (a memory bound must hold
    in every round, not in the median one)."""
    groups = {}
    with open(a.rounds) as f:
        for line in f:
            if line.strip():
                rec = json.loads(line)
                groups.setdefault(rec["id"].split("#")[0], []).append(rec)
    for rid, recs in groups.items():
        recs.sort(key=lambda r: round_of(r["id"]))
        out = dict(recs[0], id=rid, rounds=len(recs))
        failed = [r for r in recs if r["status"] != "ok"]
        if failed:
            out.update({"status": failed[0]["status"], "reason": failed[0].get("reason", ""),
                        "failed_rounds": [round_of(r["id"]) for r in failed]})
        else:
            for k, v in recs[0].items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "reps":
                    out[k] = median([r[k] for r in recs if isinstance(r.get(k), (int, float))])
                elif isinstance(v, dict):
                    out[k] = {m: median([r.get(k, {}).get(m, 0) for r in recs]) for m in v}
            figs = [figure(r) for r in recs]
            if all(isinstance(x, (int, float)) for x in figs):
                out["round_figures"] = figs
                out["min"], out["max"] = min(figs), max(figs)
            rss = [r["max_rss"] for r in recs if isinstance(r.get("max_rss"), (int, float))]
            if rss:
                out["max_rss"] = max(rss)
        append(a.results, out)
    return 0


# The array rows: per workload, its sluice row, its ceiling (the same scheduler moving the stored
# bytes alone) and its peer (zarrita).
ARRAY_WORKLOADS = [
    ("array_read", "array: read whole"),
    ("array_sel", "array: read 10% selection"),
    ("array_write", "array: write whole"),
]


def array_section(recs, w):
    rows = [r for r in recs if r["workload"] in dict(ARRAY_WORKLOADS)]
    if not rows:
        return
    by_id = {r["id"]: r for r in recs}
    hdr = "%-26s %-38s %11s %11s %10s %15s %9s %9s %9s" % (
        "array workload", "who", "decoded/s", "stored/s", "sluice / x", "requests c/srv", "cpu s/GiB",
        "peak RSS", "- buffer")
    w(hdr)
    w("-" * len(hdr))
    order = {"sluice": 0, "ceiling": 1, "peer": 2}
    for wl, wl_name in ARRAY_WORKLOADS:
        first = True
        for r in sorted([r for r in rows if r["workload"] == wl], key=lambda r: order.get(r["kind"], 3)):
            ok = r["status"] == "ok"
            ratio = ""
            base = by_id.get(r.get("vs") or "", {})
            if ok and base.get("status") == "ok":
                if r["kind"] == "ceiling" and r.get("stored_throughput") and base.get("stored_throughput"):
                    ratio = "%.0f%%" % (100 * base["stored_throughput"] / r["stored_throughput"])
                elif r["kind"] == "peer" and r.get("throughput") and base.get("throughput"):
                    ratio = "%.2fx" % (base["throughput"] / r["throughput"])
            reqs = ""
            if ok:
                reqs = "%s/%s" % (("%d" % r["requests"]) if r.get("requests") is not None else "-",
                                  ("%d" % r["server_requests"]) if r.get("server_requests") is not None else "-")
            rss = r.get("max_rss")
            own = rss - r["destination_bytes"] if ok and rss and r.get("destination_bytes") else None
            notes = []
            if ok and r.get("server_methods"):
                notes.append(" ".join("%s %d" % (m, n) for m, n in sorted(r["server_methods"].items())))
            if ok and r.get("expected_read_requests") is not None:
                notes.append("plan: %d shards, %d spans (%d GETs) + %d index GETs" % (
                    r["shards"], r["spans"], r["expected_gets"], r["shards"]))
            if r.get("note"):
                notes.append(r["note"])
            if not ok:
                notes.append((r.get("reason") or "")[:110])
            if r.get("rounds", 1) > 1:
                notes.append(median_note(r))
            w("%-26s %-38s %11s %11s %10s %15s %9s %9s %9s  %s" % (
                wl_name if first else "", r["label"][:38], fmt_rate(r.get("throughput")) if ok else r["status"],
                fmt_rate(r.get("stored_throughput")) if ok and r.get("stored_throughput") else "",
                ratio, reqs, "%.2f" % r["cpu_s_per_gib"] if ok and r.get("cpu_s_per_gib") is not None else "",
                fmt_bytes(rss) if ok else "", fmt_bytes(own) if own is not None else "", "; ".join(notes)))
            first = False
        w("")


def array_targets(recs, target):
    by_id = {r["id"]: r for r in recs}
    if not any(r["workload"] in dict(ARRAY_WORKLOADS) for r in recs):
        return

    def ok(i):
        r = by_id.get(i)
        return r if r and r.get("status") == "ok" else None

    s, raw, z = ok("sluice.array_read"), ok("raw.array_read"), ok("zarrita.array_read")
    if s and raw:
        q = s["stored_throughput"] / raw["stored_throughput"]
        target("array read whole >= 70% of the raw GET rate of its stored bytes", q >= 0.70,
               "%.0f%% (%s of %s stored bytes/s)" % (100 * q, fmt_rate(s["stored_throughput"]),
                                                      fmt_rate(raw["stored_throughput"])))
    else:
        target("array read whole >= 70% of the raw GET rate of its stored bytes", None, "missing figures")
    m = ok("mem.array_read")
    if m and raw:
        # Not a target: what the CPU allows. The same read from memory (no
        # network) bounds any read over the network; when it is itself below
        # 70% of the raw GET rate, decoding, not fetching, sets the pace.
        q = m["stored_throughput"] / raw["stored_throughput"]
        target("(bound) the same read from memory, no network, vs the raw GET rate", None,
               "%.0f%% (%s of %s stored bytes/s): %s" % (
                   100 * q, fmt_rate(m["stored_throughput"]), fmt_rate(raw["stored_throughput"]),
                   "decoding alone cannot keep up with these GETs on this machine" if q < 0.70
                   else "decoding can keep up with these GETs"))
    if s:
        limit = s["array_budget"] + 64 * MIB
        own = s["max_rss"] - s["destination_bytes"]
        target("array read whole: peak RSS - destination buffer <= budget + 64 MiB", own <= limit,
               "%s (%s peak, %s buffer; limit %s)" % (fmt_bytes(own), fmt_bytes(s["max_rss"]),
                                                       fmt_bytes(s["destination_bytes"]), fmt_bytes(limit)))
    for wl, name in (("array_read", "read whole"), ("array_sel", "read 10% selection")):
        s, z = ok("sluice." + wl), ok("zarrita." + wl)
        if s and z:
            q = s["throughput"] / z["throughput"]
            target("array %s >= 5x zarrita" % name, q >= 5, "%.2fx (decoded bytes/s)" % q)
        else:
            target("array %s >= 5x zarrita" % name, None, "missing figures")
    s, plan = ok("sluice.array_sel"), ok("raw.array_sel")
    if s and plan and s.get("server_requests") is not None:
        want = plan["expected_read_requests"]
        got = s["server_requests"]
        target("array selection: one index GET per shard + one GET per coalesced range", got == want,
               "nginx logged %d requests, the plan needs %d (%d index GETs, %d spans in %d GETs)" % (
                   got, want, plan["shards"], plan["spans"], plan["expected_gets"]))
    else:
        target("array selection: one index GET per shard + one GET per coalesced range", None, "missing figures")


# The file-dataset rows: per workload, sluice files push / pull, sluice cp -r of the same tree (the
# same transfers without a manifest: what the dataset layer costs) and aws s3 sync.
FILES_WORKLOADS = [
    ("files_push_small", "files push: many small"),
    ("files_pull_small", "files pull: many small"),
    ("files_push_large", "files push: few large"),
    ("files_pull_large", "files pull: few large"),
]


def files_section(recs, w):
    rows = [r for r in recs if r["workload"] in dict(FILES_WORKLOADS)]
    if not rows:
        return
    by_id = {r["id"]: r for r in recs}
    hdr = "%-24s %-34s %11s %10s %10s %9s %9s" % (
        "files workload", "who", "bytes/s", "files/s", "sluice / x", "cpu s/GiB", "peak RSS")
    w(hdr)
    w("-" * len(hdr))
    order = {"sluice": 0, "ceiling": 1, "peer": 2}
    for wl, wl_name in FILES_WORKLOADS:
        first = True
        for r in sorted([r for r in rows if r["workload"] == wl], key=lambda r: order.get(r["kind"], 3)):
            ok = r["status"] == "ok"
            base = by_id.get(r.get("vs") or "", {})
            ratio = ""
            if ok and base.get("status") == "ok" and r.get("throughput") and base.get("throughput"):
                ratio = "%.2fx" % (base["throughput"] / r["throughput"])
            notes = []
            if not ok:
                notes.append((r.get("reason") or "")[:110])
            if r.get("rounds", 1) > 1:
                notes.append(median_note(r))
            w("%-24s %-34s %11s %10s %10s %9s %9s  %s" % (
                wl_name if first else "", r["label"][:34], fmt_rate(r.get("throughput")) if ok else r["status"],
                "%.0f" % r["rps"] if ok and r.get("rps") else "", ratio,
                "%.2f" % r["cpu_s_per_gib"] if ok and r.get("cpu_s_per_gib") is not None else "",
                fmt_bytes(r.get("max_rss")) if ok else "", "; ".join(notes)))
            first = False
        w("")


def files_targets(recs, target):
    by_id = {r["id"]: r for r in recs}
    if not any(r["workload"] in dict(FILES_WORKLOADS) for r in recs):
        return
    for wl, name in FILES_WORKLOADS:
        op = wl.split("_")[1] + "_" + wl.split("_")[2]
        s, c = by_id.get("files." + op), by_id.get("cpr." + op)
        if s and c and s.get("status") == "ok" and c.get("status") == "ok":
            q = s["throughput"] / c["throughput"]
            sr, cr = s.get("round_figures"), c.get("round_figures")
            rounds = [x / y for x, y in zip(sr, cr)] if sr and cr and len(sr) == len(cr) else None
            target("%s: manifest overhead vs sluice cp -r <= 5%%" % name, q >= 0.95,
                   "%.1f%% slower (%s vs %s)" % (100 * (1 - q), fmt_rate(s["throughput"]), fmt_rate(c["throughput"])),
                   q, 0.95, rounds)
        else:
            target("%s: manifest overhead vs sluice cp -r <= 5%%" % name, None, "missing figures")


def cmd_na(a):
    rec = {"id": a.id, "workload": a.workload, "kind": a.kind, "label": a.label, "server": a.server,
           "vs": a.vs, "unit": a.unit, "status": a.status, "reason": a.reason, "note": a.note}
    append(a.results, rec)
    print("  %-7s %-34s %s" % (a.status, a.label, a.reason), file=sys.stderr)
    return 0


# ---------------------------------------------------------------- report

WORKLOADS = [
    ("large_mem", "GET large -> memory"),
    ("large_file", "GET large -> file"),
    ("put", "PUT objects"),
    ("small", "GET small objects"),
    ("tripwire", "integrity tripwire"),
]
# The sluice row each workload is judged by, and ceilings measured once but
# shown (and compared) in several workloads.
PRIMARY = {"large_mem": "sluice.large_mem", "large_file": "sluice.large_file", "put": "sluice.put",
           "small": "sluice.small"}
SHARED_CEILINGS = {"large_mem": ["iperf3"], "large_file": ["iperf3"], "put": ["iperf3"]}


def figure(rec):
    if rec.get("status") != "ok":
        return None
    return rec.get("rps") if rec.get("unit") == "req/s" else rec.get("throughput")


def cmd_report(a):
    recs = []
    with open(a.results) as f:
        for line in f:
            if line.strip():
                recs.append(json.loads(line))
    by_id = {r["id"]: r for r in recs}
    out = []
    w = out.append
    if a.title:
        w(a.title)
    hdr = "%-22s %-46s %-8s %13s %10s %9s %9s  %s" % (
        "workload", "who", "server", "figure", "sluice / x", "cpu s/GiB", "peak RSS", "notes")
    if any(r["workload"] in dict(WORKLOADS) for r in recs):  # not with --arrays-only
        w(hdr)
        w("-" * len(hdr))
    for wl, wl_name in WORKLOADS:
        rows = [r for r in recs if r["workload"] == wl]
        if not rows:
            continue
        for cid in SHARED_CEILINGS.get(wl, []):
            if cid in by_id:
                rows.append(dict(by_id[cid], vs=PRIMARY[wl], workload=wl))
        first = True
        order = {"sluice": 0, "ceiling": 1, "peer": 2}
        rows.sort(key=lambda r: order.get(r["kind"], 3))
        for r in rows:
            if r.get("workload_name"):
                wl_name = r["workload_name"]
            fig = figure(r)
            if r["workload"] == "tripwire":
                figtxt = "rejected" if r["status"] == "ok" else "NOT rejected"
            elif r["status"] == "ok":
                figtxt = fmt_rps(fig) if r.get("unit") == "req/s" else fmt_rate(fig)
            else:
                figtxt = r["status"]
            ratio = ""
            if r["kind"] in ("ceiling", "peer") and r.get("vs") and fig:
                base = figure(by_id.get(r["vs"], {}))
                if base:
                    q = base / fig
                    ratio = ("%.0f%%" % (100 * q)) if r["kind"] == "ceiling" else ("%.2fx" % q)
            cpu = r.get("cpu_s_per_gib")
            shown = r["status"] == "ok" and r["kind"] != "ceiling" and r["workload"] != "tripwire"
            cpu_txt = "%.3f" % cpu if cpu is not None and shown else ""
            rss_txt = fmt_bytes(r.get("max_rss")) if shown else ""
            notes = []
            if r["kind"] == "sluice" and r["status"] == "ok" and r["workload"] != "tripwire":
                notes.append("p50 %.2f ms, p99 %.2f ms" % (r.get("p50_ms", 0), r.get("p99_ms", 0)))
                notes.append("%d errors" % r.get("errors", 0))
                if r.get("unit") == "req/s" and r.get("throughput"):
                    notes.append(fmt_rate(r["throughput"]))
                if r.get("unit") != "req/s" and r.get("rps"):
                    notes.append("%.1f obj/s" % r["rps"])
            elif r["kind"] == "peer" and r["status"] == "ok" and r.get("unit") == "req/s" and r.get("throughput"):
                notes.append(fmt_rate(r["throughput"]))
            elif r["kind"] == "ceiling" and r["status"] == "ok" and r.get("unit") == "req/s" and r.get("throughput"):
                notes.append(fmt_rate(r["throughput"]))
            if r.get("vs") and r["kind"] == "peer" and r["vs"] != PRIMARY.get(wl) and by_id.get(r["vs"]):
                notes.append("compared with: " + by_id[r["vs"]]["label"])
            if r.get("note"):
                notes.append(r["note"])
            if r["status"] != "ok" and r.get("reason"):
                notes.append(r["reason"][:110])
            if r["workload"] == "tripwire" and r.get("reason"):
                notes.append(r["reason"][:110])
            if r.get("rounds", 1) > 1:
                notes.append(median_note(r))
            elif r.get("reps", 1) > 1:
                notes.append("best of %d" % r["reps"])
            w("%-22s %-46s %-8s %13s %10s %9s %9s  %s" % (
                wl_name if first else "", r["label"][:46], r["server"], figtxt, ratio, cpu_txt, rss_txt,
                "; ".join(notes)))
            first = False
        w("")

    array_section(recs, w)
    files_section(recs, w)

    # Targets.
    w("Targets (sluice / x is sluice's figure divided by the row's figure)%s:" % (
        "; SMOKE RUN: tiny sizes, the figures mean nothing" if a.smoke else ""))
    met_all = True
    targets = []

    # A target is met when the ratio of the medians meets it; `rounds` (the ratio in each round,
    # from the rows' round_figures) says whether it also held in every round.
    def target(text, ok, detail, ratio=None, want=None, rounds=None):
        nonlocal met_all
        state = "met" if ok is True else ("not met" if ok is False else "n/a")
        if ok is False:
            met_all = False
        held = None
        if rounds and want is not None:
            held = sum(1 for q in rounds if q >= want)
            detail += "; held in %d of %d rounds (%s)" % (held, len(rounds), ", ".join("%.2f" % q for q in rounds))
        w("  [%-7s] %s: %s" % (state, text, detail))
        targets.append({"target": text, "state": state, "detail": detail, "median_ratio": ratio, "want": want,
                        "round_ratios": rounds, "held_every_round": None if held is None else held == len(rounds)})

    def fig_of(i):
        return figure(by_id.get(i, {}))

    def rounds_of(i):
        r = by_id.get(i, {})
        return r.get("round_figures") if r.get("status") == "ok" else None

    # Per round: sluice's figure over the smallest of the others' in that round.
    def round_ratios(sluice_id, other_ids):
        s = rounds_of(sluice_id)
        os_ = [rounds_of(o) for o in other_ids]
        if not s or not os_ or any(not o or len(o) != len(s) for o in os_):
            return None
        return [s[k] / min(o[k] for o in os_) for k in range(len(s))]

    def ratio_target(text, sluice_id, ceiling_ids, want):
        s = fig_of(sluice_id)
        cs = [fig_of(c) for c in ceiling_ids]
        if s is None or any(c is None for c in cs) or not cs:
            target(text, None, "missing figures")
            return
        c = min(cs)
        target(text, s / c >= want, "%.0f%% of the medians (want >= %.0f%%)" % (100 * s / c, 100 * want),
               s / c, want, round_ratios(sluice_id, ceiling_ids))

    if any(r["workload"] in dict(WORKLOADS) for r in recs):  # not with --arrays-only
        ratio_target("large GET to memory >= 85% of iperf3", "sluice.large_mem", ["iperf3"], 0.85)
        ratio_target("large GET to file >= 80% of min(iperf3, fio)", "sluice.large_file", ["iperf3", "fio"], 0.80)
        ratio_target("large GET to memory >= 90% of wrk's rate, same ranged GETs", "sluice.large_mem", ["wrk.large"],
                     0.90)
        ratio_target("small-GET rate >= 70%% of wrk's (concurrency %s)" % a.small_c, "sluice.small", ["wrk.small"],
                     0.70)
        ratio_target("small-GET rate >= 70%% of wrk's (concurrency %s)" % a.small_c_high, "sluice.small_high",
                     ["wrk.small_high"], 0.70)
        ratio_target("small GETs to files >= 1.5x rclone (with its syncfs)", "sluice.small_files", ["rclone.small"],
                     1.5)
        ratio_target("PUT with --unsigned-payload >= 1.0x curl", "sluice.put_unsigned", ["curl.put"], 1.0)
        ratio_target("signed PUT >= 2x rclone and the aws cli", "sluice.put", ["rclone.put", "aws.put"], 2.0)
    for wl, wl_name in WORKLOADS:
        peers = [r for r in recs if r["workload"] == wl and r["kind"] == "peer"]
        if not peers:
            continue
        qs = []
        missing = []
        for p in peers:
            s, f = fig_of(p.get("vs")), figure(p)
            if s is None or f is None:
                missing.append(p["label"].split()[0])
                continue
            qs.append((s / f, p["label"].split()[0]))
        if not qs:
            target(">= 2x the best peer, %s" % wl_name, None, "no peer figure")
            continue
        worst = min(qs)
        detail = "closest peer %s at %.2fx of the medians (want >= 2x)" % (worst[1], worst[0])
        if missing:
            detail += "; no figure from " + ", ".join(missing)
        per_round = [round_ratios(p.get("vs"), [p["id"]]) for p in peers if fig_of(p.get("vs")) and figure(p)]
        rounds = None
        if per_round and all(per_round) and len({len(x) for x in per_round}) == 1:
            rounds = [min(x[k] for x in per_round) for k in range(len(per_round[0]))]
        target(">= 2x the best peer, %s" % wl_name, worst[0] >= 2.0, detail, worst[0], 2.0, rounds)
    for r in recs:
        if r["kind"] != "sluice" or r["status"] != "ok" or not r.get("memory_budget"):
            continue
        limit = r["memory_budget"] + 64 * MIB
        target("peak RSS <= budget + 64 MiB, %s, %s" % (dict(WORKLOADS).get(r["workload"], r["workload"]), r["label"]),
               r["max_rss"] <= limit,
               "%s (limit %s)" % (fmt_bytes(r["max_rss"]), fmt_bytes(limit)))
    array_targets(recs, target)
    files_targets(recs, target)
    runs = [r for r in recs if r["kind"] == "sluice" and r["workload"] != "tripwire"]
    errs = sum(r.get("integrity_errors", r.get("errors", 0)) or 0 for r in runs if r["status"] == "ok")
    bad = [r["label"] for r in runs if r["status"] != "ok"]
    trip = by_id.get("sluice.tripwire")
    detail = "%d errors in %d sluice runs" % (errs, len(runs))
    if bad:
        detail += "; failed: " + ", ".join(bad)
    if trip is not None:
        detail += "; tampered object %s" % ("rejected" if trip.get("status") == "ok" else "NOT rejected")
    target("zero integrity errors (every read verified)", errs == 0 and not bad and (trip is None or trip["status"] == "ok"),
           detail)

    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump({"title": a.title, "smoke": a.smoke, "rows": recs, "targets": targets}, f, indent=1)
    failed = [r for r in recs if r["status"] == "failed"]
    nas = [r for r in recs if r["status"] == "n/a"]
    if nas:
        w("n/a: " + "; ".join("%s: %s" % (r["label"], r.get("reason", "")) for r in nas))
    w("")
    if failed:
        w("FAILED steps: " + ", ".join(r["label"] for r in failed))
    else:
        w("All steps ran (%s)." % ("every target met" if met_all else "some targets not met"))
    print("\n".join(out))
    return 1 if failed else 0


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("freeport")
    p = sub.add_parser("wait-port")
    p.add_argument("port", type=int)
    p.add_argument("seconds", type=float)
    p = sub.add_parser("recorded-hash")
    p.add_argument("path")
    p.add_argument("part", type=int)
    p = sub.add_parser("patterned")
    p.add_argument("path")
    p.add_argument("size", type=int)
    p.add_argument("part", type=int)

    def common(p):
        p.add_argument("--results", required=True)
        p.add_argument("--id", required=True)
        p.add_argument("--workload", required=True)
        p.add_argument("--kind", required=True, choices=["sluice", "ceiling", "peer"])
        p.add_argument("--label", required=True)
        p.add_argument("--server", default="nginx")
        p.add_argument("--vs", default=None)
        p.add_argument("--unit", default="B/s", choices=["B/s", "req/s"])
        p.add_argument("--note", default="")

    p = sub.add_parser("run")
    common(p)
    p.add_argument("--logdir", required=True)
    p.add_argument("--parse", default="none", choices=["none"] + list(PARSERS))
    p.add_argument("--bytes", type=int, default=0, help="bytes moved by one run (parse none)")
    p.add_argument("--requests", type=int, default=0, help="requests made by one run (parse none)")
    p.add_argument("--reps", type=int, default=1)
    p.add_argument("--rep-budget", type=float, default=30.0, help="no further repetition after this many seconds")
    p.add_argument("--timeout", type=int, default=300)
    p.add_argument("--before", default="", help="shell command run before each repetition (not timed)")
    p.add_argument("--check", default="", help="shell command that must succeed after each repetition "
                   "(not timed; $OUT is the command's standard output)")
    p.add_argument("--access-log", default="", help="nginx access log: record the lines (requests) each "
                   "repetition added, by method")
    p.add_argument("command", nargs=argparse.REMAINDER)

    p = sub.add_parser("na")
    common(p)
    p.add_argument("--reason", required=True)
    p.add_argument("--status", default="n/a", choices=["n/a", "failed", "ok"])

    p = sub.add_parser("report")
    p.add_argument("--results", required=True)
    p.add_argument("--title", default="")
    p.add_argument("--smoke", action="store_true")
    p.add_argument("--json-out", default="", help="also write the rows and the targets as JSON here")
    p.add_argument("--small-c", default="64", help="the small GETs' concurrency, for the target's text")
    p.add_argument("--small-c-high", default="256", help="the small GETs' higher concurrency, likewise")

    p = sub.add_parser("median")
    p.add_argument("--rounds", required=True)
    p.add_argument("--results", required=True)
    p = sub.add_parser("checksum")
    p.add_argument("out")
    p.add_argument("expected", type=float)

    a = ap.parse_args()
    if a.cmd == "median":
        return cmd_median(a)
    if a.cmd == "checksum":
        with open(a.out) as f:
            got = json.loads([l for l in f.read().splitlines() if l.strip().startswith("{")][-1])["checksum"]
        if got != a.expected:
            print("checksum %r, want %r: the data read differs from the data written" % (got, a.expected))
            return 1
        return 0
    if a.cmd == "freeport":
        print(free_port())
        return 0
    if a.cmd == "wait-port":
        return 0 if wait_port(a.port, a.seconds) else 1
    if a.cmd == "recorded-hash":
        print(recorded_hash(a.path, a.part))
        return 0
    if a.cmd == "patterned":
        print(patterned(a.path, a.size, a.part))
        return 0
    if a.cmd == "run":
        if a.command and a.command[0] == "--":
            a.command = a.command[1:]
        if not a.command:
            ap.error("run: no command")
        return cmd_run(a)
    if a.cmd == "na":
        return cmd_na(a)
    if a.cmd == "report":
        return cmd_report(a)
    return 2


if __name__ == "__main__":
    sys.exit(main())
