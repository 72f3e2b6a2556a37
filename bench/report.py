#!/usr/bin/env python3
"""Writes the benchmark report (benchmarks.md) and its chart (benchmarks.svg) from one run of
bench/run.sh: report.py RUN_DIR OUT_DIR [--smoke] [--compare EARLIER_RUN_DIR]. Standard library only.

--compare: the raw output of an earlier run of the same harness (the previous release, measured on
the same machine), whose ratios the report shows beside this run's.

RUN_DIR holds meta.env, settings.txt, runs.tsv, explain.txt, profile.*.tsv and, per pgbench run,
logs/NAME/pgbench.out (with -r) and logs/NAME/tx.* (pgbench --log: one line per transaction,
the third field its latency in microseconds). Exit status 1 when a check failed."""

import glob
import html
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report_shapes  # noqa: E402  (bench/report_shapes.py: the studio shapes section)
import report_week  # noqa: E402  (bench/report_week.py: release 0.2.0 against 0.1.3, the hot waitlist, waits)
import report_chart  # noqa: E402  (bench/report_chart.py: the chart)
import report_attendance  # noqa: E402  (bench/report_attendance.py: 0.2.2's report queries and their plans)

run_dir, out_dir = sys.argv[1], sys.argv[2]
os.makedirs(out_dir, exist_ok=True)
smoke = "--smoke" in sys.argv[3:]
compare_dir = sys.argv[sys.argv.index("--compare") + 1] if "--compare" in sys.argv[3:] else None


def read(path, default=""):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


meta = {}
for line in read(os.path.join(run_dir, "meta.env")).splitlines():
    if "=" in line:
        k, v = line.split("=", 1)
        meta[k] = v
N = lambda k: int(meta.get(k, "0") or 0)  # noqa: E731


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class Run:
    """One scenario side: its pgbench rounds (logs/NAME/r*/) taken together: throughput, latency
    percentiles over every logged transaction, per-statement averages weighted by transactions."""

    def __init__(self, name, base=None):
        base = base or run_dir
        self.name = name
        self.tx = self.failed = 0
        self.aborted = False
        self.round_tps = []
        busy = 0.0              # seconds of running, as pgbench counts them for its tps
        lat = []
        stmt = {}               # statement text -> [sum of ms x tx, tx]
        self.rounds = sorted(glob.glob(os.path.join(base, "logs", name, "r*")))
        for d in self.rounds:
            out = read(os.path.join(d, "pgbench.out"))
            m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
            tps = float(m.group(1)) if m else 0.0
            m = re.search(r"number of transactions actually processed: (\d+)", out)
            tx = int(m.group(1)) if m else 0
            m = re.search(r"number of failed transactions: (\d+)", out)
            self.failed += int(m.group(1)) if m else 0
            self.aborted |= "aborted" in out or not m
            self.tx += tx
            self.round_tps.append(tps)
            if tps > 0:
                busy += tx / tps
            for path in glob.glob(os.path.join(d, "tx.*")):
                with open(path) as f:
                    for line in f:
                        parts = line.split()
                        if len(parts) >= 3 and parts[2].isdigit():
                            lat.append(int(parts[2]) / 1000.0)
            section = out.split("statement latencies in milliseconds", 1)
            if len(section) == 2:
                for line in section[1].splitlines()[1:]:
                    m = re.match(r"\s+([0-9.]+)\s+(\d+)\s+(.*)", line)
                    if m:
                        acc = stmt.setdefault(m.group(3).strip(), [0.0, 0])
                        acc[0] += float(m.group(1)) * tx
                        acc[1] += tx
        self.tps = self.tx / busy if busy else float("nan")
        self.busy = busy
        # transaction ids assigned during the rounds (None: a run from before they were counted)
        counts = [read(os.path.join(d, "xids")).strip() for d in self.rounds]
        self.xids = sum(int(c) for c in counts) if counts and all(c.isdigit() for c in counts) else None
        lat.sort()
        self.n = len(lat)
        self.p50, self.p95, self.p99 = (percentile(lat, p) for p in (50, 95, 99))
        # the call(s): every statement but \set, BEGIN, COMMIT, the claims and the hot sequence
        self.call_ms = 0.0
        for text, (total, tx) in stmt.items():
            if text.startswith(("\\", "BEGIN", "COMMIT")) or "set_config" in text or "nextval" in text or not tx:
                continue
            if "wl_pick" in text:
                continue
            self.call_ms += total / tx
        # the calls one by one: (statement text, ms), in script order
        self.calls = [(text, total / tx) for text, (total, tx) in stmt.items()
                      if tx and not (text.startswith(("\\", "BEGIN", "COMMIT")) or "set_config" in text
                                     or "nextval" in text or "wl_pick" in text)]
        # the hot waitlist scenario: its slots before the first round and after the last (places
        # taken, athletes waiting, promotions so far, slots over capacity)
        def state(d, f):
            parts = read(os.path.join(d, f)).split()
            return [int(x) for x in parts] if len(parts) == 4 and all(x.isdigit() for x in parts) else None
        self.wl_before = state(self.rounds[0], "wl_before") if self.rounds else None
        self.wl_after = state(self.rounds[-1], "wl_after") if self.rounds else None

    @property
    def ok(self):
        return bool(self.rounds) and self.tx > 0 and not self.aborted and self.failed == 0


runs = {}


def run(name):
    if name not in runs:
        runs[name] = Run(name)
    return runs[name]


def fmt(x, digits=2):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if abs(x) >= 100:
        return f"{x:.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{digits}f}"


def ratio(a, b):
    if not a or not b or math.isnan(a) or math.isnan(b):
        return float("nan")
    return a / b


def round_ratios(e, f):
    """'lo–hi' of the per-round throughput ratios (each extension round against the floor's round
    that ran right after it), or '' with one round."""
    rs = [a / b for a, b in zip(e.round_tps, f.round_tps) if a and b]
    if len(rs) < 2:
        return ""
    return f"<br><sub>rounds {min(rs):.2f}–{max(rs):.2f}</sub>" if max(rs) >= 0.1 else f"<br><sub>rounds {min(rs):.3f}–{max(rs):.3f}</sub>"


# --- the scenarios ----------------------------------------------------------------------------
batch = N("batch")
S = [
    # key, label, what is measured, extension run, floor run, floor label, target (kind, value)
    ("1", "1. Spread booking", f"book_slot on {N('trainers') * N('per_trainer') // 10:,} slots by {N('spread_athletes'):,} athletes",
     "spread.ext", "spread.floor", "lock slot, count, insert (plain tables)", ("tps", 0.77)),
    ("1c", "1c. Spread booking, 1 client", "the same bookings one at a time: a request's own cost, no queueing",
     "spread.ext@1c", "spread.floor@1c", "lock slot, count, insert (plain tables)", None),
    ("2", "2. Hot booking", "book_slot, all 16 clients on the same slot (20 places), slot after slot",
     "hot.ext", "hot.floor", "lock slot, count, insert (plain tables)", ("tps", 0.77)),
    ("3", "3. Cancel + re-book", "cancel_booking then book_slot (2 requests per transaction)",
     "cancel_rebook.ext", "cancel_rebook.floor", "UPDATE; lock, count, UPDATE (plain tables)", None),
    ("4a", "4a. available_slots, trainer-week", "one trainer, 7 days; 16 clients, full request",
     "avail_week.ext", "avail_week.floor", "same query, plain SQL, superuser", None),
    ("4a1", "4a. available_slots, trainer-week, 1 client", "the call alone, one client (latency target)",
     "avail_week_1c.ext", "avail_week_1c.floor", "same query, plain SQL, superuser", ("p50", 1.0)),
    ("4b", "4b. available_slots, all trainers, 1 day", "all trainers, 24 h",
     "avail_day.ext", "avail_day.floor", "same query, plain SQL, superuser", None),
    ("5", "5. my_bookings under RLS", "my_bookings() as authenticated vs the same call as superuser",
     "my_bookings.ext", "my_bookings.norls", "same call, superuser (no RLS)", ("tps", 1 / 1.5)),
    ("5f", "5. my_bookings vs plain SQL", "my_bookings() as authenticated vs its query as plain SQL",
     "my_bookings.ext", "my_bookings.floor", "the function's query, plain SQL, superuser", None),
    ("5b", "5b. GET /bookings under RLS", "table read, RLS picks the athlete's rows",
     "table_read.ext", "table_read.floor", "same read, superuser, WHERE user_id", ("tps", 1 / 1.5)),
    ("6", "6. complete_past_bookings", f"{N('due'):,} ended bookings, batches of {batch}, 16 callers",
     "complete.ext", "complete.floor", "same batch UPDATE on plain tables", None),
]
# 0.2.0 (issue 12): the hot-slot cancellation with waitlist, on a release with waitlists
HAS_WAITLISTS = meta.get("has_waitlists") == "t" and os.path.isdir(os.path.join(run_dir, "logs", "hot_waitlist.ext"))
if HAS_WAITLISTS:
    S.append(("7", "7. Hot-slot cancellation with waitlist",
              f"cancel_booking (the first waiting athlete booked in the same transaction) then join_waitlist, "
              f"16 clients on {N('wl_capacity')}-place slots with {N('wl_waiting')} waiting (2 requests per transaction)",
              "hot_waitlist.ext", "hot_waitlist.floor",
              "lock slot, cancel, promote; lock slot, count, add entry (plain tables)", None))
for _, _, _, e, f, _, _ in S:
    run(e), run(f)
env = run("envelope.ext")


def target_text(t):
    if not t:
        return "–"
    kind, value = t
    if kind == "tps":
        return f"≥ {value:.2f}× floor" + (" (cost within 1.5×)" if abs(value - 1 / 1.5) < 1e-9 else "")
    return f"p50 < {value:g} ms"


def target_check(t, e, f):
    """(met?, text saying by how much)"""
    if not t:
        return None, ""
    kind, value = t
    if kind == "tps":
        r = ratio(e.tps, f.tps)
        if math.isnan(r):
            return False, "no result"
        if r >= value:
            return True, f"{r:.2f}× ≥ {value:.2f}×"
        shown = f"{r:.2f}" if r >= 0.1 else f"{r:.4f}"
        return False, (f"{shown}× vs {value:.2f}×: {100 * (value - r) / value:.0f}% short of the target "
                       f"(the extension would need {value / r:.1f}× its throughput)")
    r = e.p50
    if r < value:
        return True, f"p50 {r:.3f} ms < {value:g} ms"
    return False, f"p50 {r:.2f} ms vs < {value:g} ms: {r / value:.1f}× over"


checks_failed = []
if N("aborted_runs"):
    checks_failed.append(f"{N('aborted_runs')} pgbench run(s) had aborted clients or errors")
for schema in ("gym_booking", "bench_floor"):
    if N(f"overbooked_{schema}"):
        checks_failed.append(f"{N(f'overbooked_{schema}')} overbooked slot(s) in {schema}")
    if N(f"due_left_{schema}"):
        checks_failed.append(f"{N(f'due_left_{schema}')} due booking(s) left uncompleted in {schema}")

# --- the chart (bench/report_chart.py) -------------------------------------------------------------
chart_rows = [s for s in S if s[0] in ("1", "1c", "2", "3", "4a", "4a1", "4b", "5", "5b", "6", "7")]

with open(os.path.join(out_dir, "benchmarks.svg"), "w") as f:
    f.write(report_chart.svg_chart(chart_rows, run, ratio, target_check, fmt, meta, smoke, N("clients")) + "\n")

# --- EXPLAIN sections -------------------------------------------------------------------------------
explain_sections = []
current = None
for line in (read(os.path.join(run_dir, "explain.txt")) + "\n"
             + read(os.path.join(run_dir, "explain_waitlist.txt"))).splitlines():
    if line.startswith("### "):
        current = [line[4:], []]
        explain_sections.append(current)
        continue
    if current is None:
        continue
    line = re.sub(r"^psql:[^:]*:\d+: ", "", line)
    current[1].append(line)


def plans_of(lines):
    """Splits auto_explain output into (duration, text) plans; drops the envelope's set_config."""
    plans, cur = [], None
    for line in lines:
        m = re.match(r"LOG:  duration: ([0-9.]+) ms  plan:", line)
        if m:
            cur = [float(m.group(1)), []]
            plans.append(cur)
        elif line.startswith(("ERROR:", "CONTEXT:")):
            plans.append([0.0, [line]])
        elif cur is not None:
            cur[1].append(line)
    return [(d, "\n".join(t).rstrip()) for d, t in plans if "set_config(" not in "\n".join(t)]


def explain_block(title, only_slowest=None):
    for name, lines in explain_sections:
        if name == title:
            plans = plans_of(lines)
            if only_slowest:
                plans = sorted(plans, key=lambda p: -p[0])[:only_slowest]
            return "\n\n".join(f"-- {d:.3f} ms\n{t}" for d, t in plans)
    return "(not captured)"


def explain_has(title, needle):
    for name, lines in explain_sections:
        if name == title:
            return needle in "\n".join(lines)
    return False


# --- profile ----------------------------------------------------------------------------------------
def profile(script):
    rows = read(os.path.join(run_dir, f"profile.{script}.tsv")).splitlines()
    out = read(os.path.join(run_dir, f"profile.{script}.pgbench.out"))
    m = re.search(r"number of transactions actually processed: (\d+)", out)
    tx = int(m.group(1)) if m else 0
    stmts, funcs = [], []
    for r in rows:
        p = r.split("\t")
        if p[0] == "stmt" and len(p) >= 6:
            stmts.append((int(p[1]), float(p[2]), float(p[3]), p[4] == "t", p[5]))
        elif p[0] == "func" and len(p) >= 5:
            funcs.append((int(p[1]), float(p[2]), float(p[3]), p[4]))
    return tx, stmts, funcs


def profile_tables(script, title):
    tx, stmts, funcs = profile(script)
    if not tx:
        return f"_{title}: no profile captured._\n"
    lines = [f"**{title}** ({tx:,} transactions in the profiling run; per transaction = total ÷ transactions)\n",
             "| function | calls / tx | total µs / tx | self µs / tx |", "|---|--:|--:|--:|"]
    for calls, total, self_, name in funcs:
        lines.append(f"| `{name}` | {calls / tx:.1f} | {1000 * total / tx:.0f} | {1000 * self_ / tx:.0f} |")
    lines += ["", "| statement (top level: **bold**; nested: run by a function, a rule or an RLS helper) | calls / tx | µs / tx | µs / call |",
              "|---|--:|--:|--:|"]
    for calls, total, mean, top, q in stmts[:12]:
        q = q.replace("|", "\\|")
        if len(q) > 110:
            q = q[:107] + "…"
        q = f"**`{q}`**" if top else f"`{q}`"
        lines.append(f"| {q} | {calls / tx:.1f} | {1000 * total / tx:.0f} | {1000 * mean:.0f} |")
    return "\n".join(lines) + "\n"


def func_per_tx(script, name):
    tx, _, funcs = profile(script)
    for calls, total, self_, n in funcs:
        if n == name and tx:
            return calls / tx, 1000 * total / tx, 1000 * self_ / tx
    return 0.0, 0.0, 0.0


def stmt_per_tx(script, needle):
    tx, stmts, _ = profile(script)
    calls = total = 0.0
    for c, t, _m, _top, q in stmts:
        if needle in q and tx:
            calls += c / tx
            total += 1000 * t / tx
    return calls, total


def perf_profile():
    rows = read(os.path.join(run_dir, "perf.tsv")).splitlines()
    samples, parts = 0, []
    for r in rows:
        a, _, b = r.partition("\t")
        if a == "samples":
            samples = int(b)
        elif b:
            parts.append((float(a), b))
    return samples, parts


perf_samples, perf_parts = perf_profile()


def perf_pct(prefix):
    for pct, label in perf_parts:
        if label.strip().startswith(prefix):
            return pct
    return float("nan")


def perf_note(prefix, text):
    """' (perf: N% of the backends' CPU …)' when the perf profile has that line."""
    pct = perf_pct(prefix)
    return "" if math.isnan(pct) else f" (perf: {pct:.0f}% of the backends' CPU{' ' + text if text else ''})"


# --- the report ------------------------------------------------------------------------------------
settings = read(os.path.join(run_dir, "settings.txt")).split()
rt = N("runtime_secs")
L = []
w = L.append
w("# gym_booking benchmarks\n")
if smoke:
    w("> **Smoke run** (tiny data, 2-second runs): checks that the runner works, not how fast anything is.\n")
command = (("BENCH_PKG=" + meta.get("pkg", "").replace(" (prebuilt)", "") + " " if "(prebuilt)" in meta.get("pkg", "") else "")
           + "bash bench/run.sh" + (" --smoke" if smoke else "")
           + (" --compare " + os.path.relpath(compare_dir, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
              if compare_dir else ""))
w(f"Generated by `{command}` on {meta.get('started', '?')} "
  f"({'harness at ' if '(prebuilt)' in meta.get('pkg', '') else ''}commit {meta.get('git', '?')}); the whole run took {rt // 60} min {rt % 60} s. Every figure below comes from "
  "that one run; run the command again to refresh this file and the chart.\n")
profile_kind = meta.get("library_profile", "")
DEV_BUILD = profile_kind.startswith("dev")
if DEV_BUILD:
    w(f"> **This run measured an unoptimized build** (cargo's {profile_kind}, "
      f"{N('library_bytes') / 1e6:.0f} MB). Its Rust code runs without optimization, so the extension's figures "
      "are pessimistic next to a release build's (`cargo pgrx package`); where a figure is bound by something "
      "else (a lock, the commit's WAL flush) it holds for a release build as well. See *Release "
      f"{meta.get('extversion') or '0.2'} against 0.1.3* for what this means for each verdict.\n")
def _load(key):
    try:
        return max(float(x) for x in meta.get(key, "").split()[:2])
    except ValueError:
        return float("nan")


busiest = max(_load("loadavg_start"), _load("loadavg_end"))
if not math.isnan(busiest) and busiest > 2 * max(N("cores"), 1):
    w(f"> **The machine was overloaded during this run** (load average up to {busiest:.1f} on {N('cores')} cores at "
      "the start or the end: other builds and tests ran beside it). Absolute figures and the one-client medians "
      "(which then measure the scheduler's time slices: many read 4.0 or 8.0 ms on every side) are not to be "
      "trusted; the throughput ratios of the runs with many clients, each side run back to back with its floor "
      "under the same load, are the figures that hold, and even those move more than usual.\n")
w("## What was measured\n")
built_by = ("a package built before the run" if "(prebuilt)" in meta.get("pkg", "") else "`cargo pgrx package`, this run")
note = meta.get("pkg_note", "")
w(f"- **The build:** gym_booking {meta.get('extversion') or meta.get('version', '?')}, `gym_booking.so` from {built_by} "
  f"({meta.get('pkg', '?').replace(' (prebuilt)', '')}; library of {meta.get('library_built', '?')}, "
  f"{profile_kind or 'compilation profile not recorded'}{'; ' + note if note else ''}), "
  f"loaded by a throwaway cluster that runs a private copy of the installed PostgreSQL ({meta.get('library', '?')}); "
  f"control and SQL files: {meta.get('sql_matches', '?')}.")
w(f"- **The data:** {N('trainers'):,} trainers, {N('athletes'):,} athletes, {meta.get('slots', '?')} slots, "
  f"{meta.get('bookings', '?')} bookings (about {N('bookings') // max(N('athletes'), 1)} per athlete; half of the slots in the past), "
  f"{meta.get('activity_logs', '?')} activity-log rows and {meta.get('history', '?')} history rows, {meta.get('db_size', '?')} "
  f"on disk; loaded set-based with the rules off (`session_replication_role = replica`), then `VACUUM ANALYZE`; "
  f"{fmt(float(meta.get('load_secs', 'nan')))} s to load, {fmt(float(meta.get('floor_secs', 'nan')))} s to copy the floor.")
w(f"- **Each request as PostgREST makes it:** `BEGIN; SELECT set_config('role', 'authenticated', true), "
  "set_config('request.jwt.claims', '<a Supabase-style JWT payload, ~400 bytes>', true); SELECT … ; COMMIT;` — "
  f"pgbench, {N('clients')} clients, {N('threads')} threads, `-M prepared`, every transaction's latency logged. "
  f"Timed runs last {N('secs')} s per side, in {N('rounds')} rounds that alternate with the floor's; spread booking runs {N('spread_tx'):,} transactions per client (3 bookings per slot on "
  f"average, so no slot fills); `complete_past_bookings` runs {N('complete_tx')} calls per client.")
w("- **The floor:** the least SQL with the same effect and no rules, logs or RLS, in the same envelope (BEGIN, the "
  "claims, the call, COMMIT) as the superuser. Writes go to `bench_floor`, a plain copy of `users`, `slots` and "
  "`bookings` (same rows, columns, CHECKs, keys, foreign keys and indexes; no triggers, no RLS), through PL/pgSQL "
  "functions that lock the slot, count on a fresh snapshot and insert (`bench/sql/floor.sql`); reads run the same "
  "query as plain SQL on the same tables as the superuser. For `my_bookings` the floor that isolates RLS is the very "
  "same call as the superuser.")
w(f"- **The machine:** {meta.get('cpu', '?')}, {meta.get('cores', '?')} cores, {meta.get('mem', '?')} RAM, "
  f"{meta.get('kernel', '?')}; PostgreSQL {meta.get('pg_version', '?')} ({meta.get('pgbench', '?')}), client and server on "
  f"the same machine over a Unix socket. Load average {meta.get('loadavg_start', '?')} at the start and "
  f"{meta.get('loadavg_end', '?')} at the end: the machine is shared (other builds and test clusters ran during this run), "
  "so absolute figures are noisy; each extension run is followed at once by its floor, and the ratios are what to read. "
  "The results table gives each ratio's range over the rounds of this run; between whole runs on this shared machine, "
  "the write ratios have moved by up to about ±0.2, so read the verdicts, not the second decimal.")
w(f"- **Settings:** {', '.join(f'`{s}`' for s in settings)}; everything else PostgreSQL's defaults "
  "(durable commits: `synchronous_commit = on`, `fsync = on`).\n")

w("## Results\n")
w("Throughput in transactions per second (a transaction is one request; for *cancel + re-book* it is two). "
  "Latency percentiles are per transaction, from pgbench's log, with 16 clients sharing 2 cores (so a median is "
  "mostly queueing: about clients ÷ throughput); *call* is pgbench's average for the API statement alone.\n")
w("| scenario | side | tps | p50 ms | p95 ms | p99 ms | call ms | throughput ÷ floor | p50 ÷ floor | target | met |")
w("|---|---|--:|--:|--:|--:|--:|--:|--:|---|---|")
shown = set()
for key, label, what, e_name, f_name, f_label, target in S:
    e, f = run(e_name), run(f_name)
    met, how = target_check(target, e, f)
    mark = "–" if met is None else ("**yes**" if met else "**no**")
    if e_name not in shown or key == "5f":
        w(f"| {label}<br><sub>{html.escape(what)}</sub> | extension | {fmt(e.tps)} | {fmt(e.p50, 3)} | {fmt(e.p95, 3)} | {fmt(e.p99, 3)} | "
          f"{fmt(e.call_ms, 3)} | {fmt(ratio(e.tps, f.tps), 3)}×{round_ratios(e, f)} | {fmt(ratio(e.p50, f.p50), 2)}× | {target_text(target)} | {mark} |")
    w(f"| | floor: {html.escape(f_label)} | {fmt(f.tps)} | {fmt(f.p50, 3)} | {fmt(f.p95, 3)} | {fmt(f.p99, 3)} | {fmt(f.call_ms, 3)} | 1× | 1× | | |")
    shown.add(e_name)
w(f"| 0. PostgREST envelope alone<br><sub>BEGIN; role + claims; SELECT 1; COMMIT</sub> | — | {fmt(env.tps)} | "
  f"≈ {fmt(1000 * N('clients') / env.tps if env.tps else float('nan'), 3)}¹ | | | | | | | |")
ce, cf = run("complete.ext"), run("complete.floor")
w("")
w("¹ The envelope's requests are too short for pgbench's per-transaction clock with 8 clients per pgbench thread "
  "(it stamps times once per wake-up of the thread, so many sub-0.1 ms transactions log 0 µs); its mean latency is "
  "given as clients ÷ throughput instead. The other scenarios' transactions are long enough for the logged latencies "
  "to hold, and the one-client run (4a) is timed exactly.\n")
w(f"*Scenario 6* completes bookings at **{fmt(ce.tps * batch)} rows/s** with the rules (history row and log row per "
  f"booking) against **{fmt(cf.tps * batch)} rows/s** for the bare UPDATE "
  f"({fmt(ce.busy)} s vs {fmt(cf.busy)} s "
  f"for the {N('due'):,} due bookings).\n")
w("![The extension against its floor: throughput ratio and median latency per scenario](benchmarks.svg)\n")

# The previous release's figures (0.1.1, docs/benchmarks.md of 2026-11-25, same machine and data):
# what the work on the hot paths (issue 6) changed, as ratios to the floor of the same run each.
BEFORE = {"1": 0.514, "2": 0.550, "3": 0.335, "4a": 0.045, "4a1": 0.022, "4b": 0.325, "5": 0.803,
          "5f": 0.577, "5b": 0.007, "6": 0.824}
BEFORE_NOTES = {"4a1": "p50 20.0 ms", "5b": "p50 645 ms"}
# The same ratios in 0.1.2's report (commit 305ca98, docs/benchmarks.md).
RELEASE_0_1_2 = {"1": 0.529, "1c": 0.780, "2": 0.601, "3": 0.394, "4a": 0.887, "4a1": 0.931, "4b": 0.908,
                 "5": 0.909, "5f": 0.855, "5b": 0.784, "6": 0.630}
# The same ratios in 0.1.3's report (commit dbf5c12, docs/benchmarks.md of 2026-11-29 11:30 UTC).
RELEASE_0_1_3 = report_week.RELEASE_0_1_3
READ_KEYS = ("4a", "4a1", "4b", "5", "5b")
BEFORE_FOOTNOTES = {"6": "the floor now has the new `slots (end_at)` index too, so its batch query no longer scans "
                         "the bookings: the ratio fell because the floor got faster (the extension's own time per batch "
                         "halved)"}
L.extend(report_week.release_section(run, ratio, S, meta, compare_dir, lambda name: Run(name, compare_dir)))
w("### Since 0.1.1, 0.1.2 and 0.1.3\n")
w("Throughput ÷ floor per scenario in the 0.1.1, 0.1.2 and 0.1.3 reports and in this run (each ratio against the floor of "
  "its own run). 0.1.2 reads the caller once per statement (not in every policy helper and trigger), runs the "
  "policies' helpers as Rust instead of re-planned SQL, locks the athlete and the slot in one statement, writes the "
  "policies so that every arm is an index condition, and gives `available_slots` a plan per case that reads by index. "
  "0.1.3 reads the caller's account through SPI's read-only path (a read takes no transaction id), takes the "
  "writer's row first in every write (the lock order), and copies a slot's trainer onto what hangs off it. "
  "0.2.0 adds the studio's settings, waitlists and the event outbox to every booking change.\n")
w("| scenario | 0.1.1 | 0.1.2 | 0.1.3 | this run |")
w("|---|--:|--:|--:|--:|")
for key, label, _what, e_name, f_name, _f_label, _target in S:
    e, f = run(e_name), run(f_name)
    now = ratio(e.tps, f.tps)
    extra = ""
    if key in BEFORE_NOTES:
        extra = f" ({BEFORE_NOTES[key]} → p50 {fmt(e.p50, 3)} ms)"
    note = f" ({BEFORE_FOOTNOTES[key]})" if key in BEFORE_FOOTNOTES else ""
    before = f"{BEFORE[key]:.3f}×" if key in BEFORE else "–"
    release = f"{RELEASE_0_1_2[key]:.3f}×" if key in RELEASE_0_1_2 else "–"
    release3 = f"{RELEASE_0_1_3[key]:.3f}×" if key in RELEASE_0_1_3 else "–"
    w(f"| {label}{note} | {before} | {release} | {release3} | {fmt(now, 3)}×{extra} |")
w("")

w("### Reads take no transaction id\n")
w("Transaction ids handed out while each scenario ran (the next id before and after, read from a snapshot; nothing "
  "else ran meanwhile). Up to 0.1.2 every read request under row-level security took one (the caller's account was "
  "read through SPI's read-write path): reads aged the database towards wraparound and failed on a hot standby. "
  "The bookings, for contrast, take one each.\n")
w("| scenario | requests | transaction ids assigned | throughput ÷ floor, 0.1.2 | this run |")
w("|---|--:|--:|--:|--:|")
for key, label, _what, e_name, f_name, _f_label, _target in S:
    if key not in READ_KEYS + ("1",):
        continue
    e, f = run(e_name), run(f_name)
    xids = "–" if e.xids is None else f"{e.xids:,}"
    release = f"{RELEASE_0_1_2[key]:.3f}×" if key in RELEASE_0_1_2 else "–"
    w(f"| {label} | {e.tx:,} | {xids} | {release} | {fmt(ratio(e.tps, f.tps), 3)}× |")
w("")

w("### Targets\n")
w("| target | measured | verdict |")
w("|---|---|---|")
for key, label, what, e_name, f_name, f_label, target in S:
    if not target:
        continue
    met, how = target_check(target, run(e_name), run(f_name))
    name = {"1": "book_slot throughput ≥ 0.77× its floor (spread)", "2": "book_slot throughput ≥ 0.77× its floor (hot slot)",
            "4a1": "available_slots, one trainer-week, median < 1 ms at 1 M bookings",
            "5": "RLS read within 1.5× of the same read without RLS: my_bookings()",
            "5b": "RLS read within 1.5× of the same read without RLS: GET /bookings"}[key]
    w(f"| {name} | {how} | {'met' if met else '**missed**'} |")
w("")
if checks_failed:
    w("**Checks that failed in this run:** " + "; ".join(checks_failed) + ".\n")
else:
    w(f"Checks: no pgbench client aborted or failed; no slot is overbooked in either schema; every due booking was "
      f"completed on both sides ({meta.get('completed_history', '?')} history rows written by the rules).\n")

# --- analysis --------------------------------------------------------------------------------------
wl_lines, wl_failed = report_week.waitlist_section(run, ratio, meta, run_dir, explain_block)
L.extend(wl_lines)
checks_failed.extend(wl_failed)
checks_failed.extend(report_attendance.section(L, run, meta, run_dir, smoke))
meta["_compare_dir"] = compare_dir or ""
shape_lines, shape_failed = report_shapes.shapes_section(run_dir, meta)
L.extend(shape_lines)
checks_failed.extend(shape_failed)

w("## Why: where the time goes\n")
L.extend(report_week.waits_section(run_dir, meta))
s1e, s1f = run("spread.ext"), run("spread.floor")
aid = func_per_tx("spread.ext", "active_user_id")
itr = func_per_tx("spread.ext", "is_trainer")
car = func_per_tx("spread.ext", "current_app_role")
alog = func_per_tx("spread.ext", "activity_log")
cap = func_per_tx("spread.ext", "bookings_capacity_guard")
cui = func_per_tx("spread.ext", "current_user_id")
book = func_per_tx("spread.ext", "book_slot")
log_ins = stmt_per_tx("spread.ext", "INSERT INTO gym_booking.activity_logs")
actor = stmt_per_tx("spread.ext", "SELECT role::text, deleted_at IS NULL FROM gym_booking.users")
fk = stmt_per_tx("spread.ext", 'FOR KEY SHARE OF x')
w("The profile below comes from short extra runs with `pg_stat_statements.track = all` and `track_functions = all` "
  "(kept out of the measured runs, whose figures carry no tracking overhead). Under 16 clients on 2 cores every "
  "figure includes some waiting, so read them as shares, not as single-request latencies.\n")
ident = [func_per_tx("spread.ext", n) for n in ("current_user_id", "active_user_id", "is_trainer", "is_app_admin")]
cap_stmts = stmt_per_tx("spread.ext", "SELECT u.deleted_at IS NULL, u.role::text")
count_stmt = stmt_per_tx("spread.ext", "SELECT count(*) FROM gym_booking.bookings WHERE slot_id")
w(f"**Booking** (`book_slot`, {fmt(book[1])} µs per request in the profile):\n")
w(f"1. **The audit-log trigger: {fmt(alog[1])} µs per booking**" + perf_note("trigger activity_log", "") + ", of which "
  f"the `INSERT INTO activity_logs` is {fmt(log_ins[1])} µs: a jsonb row, four indexes (one a random-uuid primary key) "
  "and the foreign-key check `changed_by → users` with its `FOR KEY SHARE` lock, plus the WAL all of that writes. This "
  "is the audit trail itself; building `changed_fields` in Rust is a small part of it.")
w(f"2. **The capacity guard: {fmt(cap[1])} µs per booking**" + perf_note("trigger bookings_capacity_guard", "") + ": "
  f"two statements, the athlete's row and the slot locked in one (`FOR SHARE OF u FOR UPDATE OF s`, {fmt(cap_stmts[1])} µs) "
  f"and the count of reserved places and waiting athletes on the latest snapshot ({fmt(count_stmt[1])} µs), each run "
  "as the extension's owner (`AsOwner`: a user-id switch; the owner is read once per transaction and the "
  "`search_path` is already pinned inside the API's functions). What the lock statement read of the slot (times, "
  "trainer) serves the rest of the statement (`src/rules/held_slot.rs`): the booking's trainer, its event.")
w(f"3. **Foreign-key checks: {fmt(fk[1])} µs** ({fk[0]:.1f} per booking: the booking's slot and athlete, and the "
  "log's `changed_by`).")
w(f"4. **Identity and row-level security: {fmt(sum(i[1] for i in ident))} µs per booking** for "
  f"{sum(i[0] for i in ident):.0f} calls of `current_user_id()`, `active_user_id()`, `is_trainer()` and `is_app_admin()`"
  + perf_note("the caller's identity", "in identity code") + ". The claims are parsed once per request and the "
  "caller's `users` row is read once per statement (`src/memo.rs`; forgotten at any write to `users`, at a rolled-back "
  "savepoint and at the end of the transaction); the policies call the helpers as `(SELECT …)`, once per query.")
ev_ins = stmt_per_tx("spread.ext", "INSERT INTO gym_booking.events")
if ev_ins[0]:
    w(f"5. **The outbox event: {fmt(ev_ins[1])} µs per booking**: the `booking_confirmed` row (0.2.0) with its four "
      "indexes (the primary key, the recipient's, the delivery queue's and the relay's, all but the recipient's "
      "appended at their right edge) and its WAL, written from the times the lock statement read.")
w("")
w(f"In all, the extension runs about {fmt(stmt_per_tx('spread.ext', '')[0])} SQL statements per booking request "
  "(top-level and nested, from pg_stat_statements) where the floor runs five (the lookup, the lock, the count, "
  "the insert, its two foreign-key checks counted as one each). Every statement pays an executor start-up"
  + perf_note("executor start-up", "in `ExecutorStart`") + "; the extension's extra rows (the log row, the event row "
  "and their indexes) also make its commit's WAL flush longer.")
w("")
hot_r = ratio(run("hot.ext").tps, run("hot.floor").tps)
spread_r = ratio(s1e.tps, s1f.tps)
one_r = ratio(run("spread.ext@1c").tps, run("spread.floor@1c").tps)
w(f"**One client at a time** (scenario 1c) the same bookings run at {fmt(one_r, 2)}× the floor, against "
  f"{fmt(spread_r, 2)}× with 16 clients"
  + (": most of the gap opens under concurrency, not in a request's own cost: the bookings' commits queue one at "
     "a time for the lock `NOTIFY` takes (*Where the clients wait*, above).\n"
     if report_week.notify_share(run_dir, "spread.ext") >= 0.15 and not math.isnan(one_r) and not math.isnan(spread_r)
     and one_r > 1.15 * spread_r else
     ": most of the gap opens under concurrency, not in a request's own cost. With 16 clients on 2 cores both "
     "sides are bound by CPU and by the commit's WAL flush, and the extension writes more WAL per booking (the log "
     "row and the event row with their index entries, the lock on the athlete's row; after a checkpoint, a full-page image for each "
     "index page first touched), so its commits queue longer.\n"
     if not math.isnan(one_r) and not math.isnan(spread_r) and one_r > 1.15 * spread_r else
     ": the gap is in each request's own cost (the statements above).\n"))
w((f"In the hot-slot scenario the ratio ({hot_r:.2f}×) is closer to 1 than with spread slots ({spread_r:.2f}×): "
     "there every booker waits in line for one slot's lock, which both sides hold until their commit's WAL flush, so "
     "the queue, not CPU, bounds both; but whatever the extension does after taking the lock (the RLS `WITH CHECK` "
     "helpers, the foreign-key checks, the log insert) lengthens the time each booker holds it, which is why it "
     "stays below the floor.\n"
     if not math.isnan(hot_r) and not math.isnan(spread_r) and hot_r > 1.1 * spread_r else
     f"Hot slots ({hot_r:.2f}×) fare no better than spread ones ({spread_r:.2f}×): the extension's extra work (the log "
     "insert, the helpers) runs while the slot lock is held, so it lengthens the queue on the hot slot as well.\n"))
hist = func_per_tx("cancel_rebook.ext", "booking_status_history")
hist_ins = stmt_per_tx("cancel_rebook.ext", "INSERT INTO gym_booking.booking_status_history")
aid_cr = func_per_tx("cancel_rebook.ext", "active_user_id")
cr = ratio(run("cancel_rebook.ext").tps, run("cancel_rebook.floor").tps)
w(f"**Cancel + re-book** ({fmt(cr, 2)}× its floor) adds what a status change costs: per pair, two history rows "
  f"(the status-history trigger: {fmt(hist[1])} µs, {fmt(hist_ins[1] / hist_ins[0] if hist_ins[0] else float('nan'))} µs "
  "per history INSERT under load, with its two foreign-key checks, `booking_id → bookings` and `changed_by → users`) "
  "and two log rows, where the floor updates two rows and writes nothing else; the identity helpers the UPDATEs' "
  f"policies call come to {fmt(aid_cr[1])} µs for {aid_cr[0]:.0f} calls of `active_user_id()`.\n")
w("**Reads.**\n")
if explain_has("available_slots: one trainer-week (as authenticated)", "Seq Scan on slots"):
    w("- **available_slots**: in this run a plan of the counting function still scans every slot (EXPLAIN below).")
else:
    w("- **available_slots** counts in `available_slots_counted` (PL/pgSQL, `SECURITY DEFINER`): one query per case, "
      "each planned once per session, the trainer-week reading `slots_trainer_start_idx` and the all-trainers day "
      "`slots_start_active_idx`, every slot's count an index-only probe of `bookings_slot_status_idx` (EXPLAIN below). "
      "`available_slots` itself is a SQL wrapper that PostgreSQL inlines into the request's query. Against the plain "
      "query, it pays the function call, the security-definer switch and a tuplestore.")
w("- **my_bookings()** as authenticated vs the same call as the superuser isolates RLS: the policies add OR-ed "
  "filters (`user_id = (SELECT active_user_id())`, the trainer's slots, the admin range), evaluated once per query, "
  "on the ~100 rows the function's own `WHERE b.user_id = current_user_id()` finds by index; the function is inlined "
  "into the request's query.")
if explain_has("GET /bookings under RLS (as authenticated)", "Seq Scan on bookings"):
    w("- **GET /bookings** (a table read where RLS alone selects the rows) is where RLS hurts: the permissive policies "
      "are OR-ed and some arm is no index condition, so every read scans all "
      f"{meta.get('bookings', '?')} bookings and tests each row; the superuser's `WHERE user_id = …` reads "
      "the athlete's ~100 rows by index.\n")
else:
    w("- **GET /bookings** (a table read where RLS alone selects the rows): every arm of the OR-ed policies is an index "
      "condition (the athlete's `user_id`, the trainer's slots as `slot_id = ANY (ARRAY(…))`, the admin's primary-key "
      "range that is empty for anyone else), so PostgreSQL reads the athlete's rows with a `BitmapOr` of index scans "
      "(EXPLAIN below) where the superuser's `WHERE user_id = …` uses one index scan.\n")
w("**complete_past_bookings**: each booking completed fires the capacity guard (its reserved → completed check reads "
  "the slot), `set_updated_at`, the history trigger (an INSERT) and the audit-log trigger (an INSERT, after "
  "`Actor::current()`); the floor only updates the row. "
  + ("Both sides also pay the batch query, which has no index for `status = 'reserved' AND end_at <= now()`: each "
     "batch scans the bookings and sorts every due one again (EXPLAIN below).\n"
     if explain_has("complete_past_bookings (as service_role; rolled back)", "Seq Scan on bookings") else
     "The batch query walks ended slots by `slots_end_at_idx`, oldest first, and their reserved bookings by "
     "`bookings_slot_status_idx` (EXPLAIN below).\n"))

if perf_samples:
    w("### CPU profile of a booking run (perf)\n")
    w(f"`perf record --call-graph dwarf` on the server's backends for a few seconds of the spread-booking workload "
      f"({perf_samples:,} samples), summarised by `bench/perf_stacks.py`: the share of samples whose call stack passes "
      "through each part (inclusive, so lines overlap; the release build has Rust symbols).\n")
    w("| part of the booking path | share of backend CPU |")
    w("|---|--:|")
    for pct, label in perf_parts:
        w(f"| {html.escape(label)} | {pct:.1f}% |")
    w("")
w("### Statement and function profile (pg_stat_statements, track_functions)\n")
for script, title in (("spread.ext", "book_slot (spread booking)"), ("cancel_rebook.ext", "cancel_booking + book_slot"),
                      ("my_bookings.ext", "my_bookings() under RLS"), ("avail_week.ext", "available_slots, trainer-week")):
    w(profile_tables(script, title))

w("## EXPLAIN of the hot queries\n")
w("Captured with `auto_explain` (`log_analyze`, `log_buffers`, `log_triggers`, `log_nested_statements`), so the "
  "statements inside the API functions, the rules' SPI statements and the RLS helpers appear as PostgreSQL ran them. "
  "Writes were rolled back. Each plan is headed by its own duration.\n")
for title, note in (
        ("available_slots: one trainer-week (as authenticated)",
         "The function's body as the function runs it (planned at each call, generic), then the call:"),
        ("available_slots floor: one trainer-week, plain SQL", "The same query with the trainer named:"),
        ("available_slots: all trainers, one day (as authenticated)", ""),
        ("available_slots floor: all trainers, one day, plain SQL", ""),
        ("my_bookings() under RLS (as authenticated)", "The RLS helpers run first (InitPlans), then the body, then the call:"),
        ("my_bookings() as the superuser (no RLS)", ""),
        ("GET /bookings under RLS (as authenticated)", ""),
        ("GET /bookings floor: superuser, athlete named in WHERE", "")):
    w(f"**{title}** {note}\n")
    w("```\n" + explain_block(title) + "\n```\n")
for title in ("book_slot (as authenticated; rolled back)", "book_slot floor: bench_floor.book_slot (rolled back)",
              "cancel_booking (as authenticated; rolled back)", "complete_past_bookings (as service_role; rolled back)",
              "complete_past_bookings floor: the batch UPDATE on bench_floor (rolled back)"):
    w(f"<details><summary><b>{html.escape(title)}</b>: every statement, nested ones included</summary>\n")
    w("```\n" + explain_block(title) + "\n```\n")
    w("</details>\n")

w("## Reproducing\n")
w("```sh\nbash bench/run.sh            # full run (this report): builds the release package, ~20 minutes\n"
  "bash bench/run.sh --smoke    # tiny data, short runs, report in bench/out/smoke/ (for CI)\n"
  "bash bench/run.sh --no-build --keep   # reuse the last build; leave the cluster up to poke at it\n"
  "BENCH_PKG=DIR bash bench/run.sh       # benchmark a package built elsewhere (no cargo build)\n"
  "BENCH_PKG=OLD BENCH_NAME=bench-old bash bench/run.sh --only 'spread hot cancel_rebook' --out /tmp/old\n"
  "bash bench/run.sh --compare bench/out/bench-old   # the previous release's ratios beside this run's\n"
  "bash bench/ab.sh BASE_PKG CANDIDATE_PKG 6   # two builds side by side on a kept cluster (--keep), runs alternating\n```\n")
w("Files: `bench/run.sh` (the runner), `bench/sql/load.sql` (data), `bench/sql/floor.sql` (the floor), "
  "`bench/sql/explain.sql`, `bench/pgbench/*.sql` (one script per scenario and side), `bench/shapes.sh` with "
  "`bench/sql/plpgsql.sql`, `bench/sql/plpgsql_week.sql` and `bench/sql/shapes_explain.sql` (the studio shapes), "
  "`bench/sql/waitlist.sql` and `bench/sql/explain_waitlist.sql` (the hot waitlist), `bench/report.py`, "
  "`bench/report_shapes.py` and `bench/report_week.py` (this report and the chart). Raw output of the last run: "
  "`bench/out/" + os.path.basename(os.path.abspath(run_dir)) + "/`.\n")

with open(os.path.join(out_dir, "benchmarks.md"), "w") as f:
    f.write("\n".join(L))

bad = [r.name for r in runs.values() if not r.ok]
if bad:
    checks_failed.append("runs without a clean result: " + ", ".join(sorted(bad)))
for c in checks_failed:
    print(f"check failed: {c}", file=sys.stderr)
sys.exit(1 if checks_failed else 0)
