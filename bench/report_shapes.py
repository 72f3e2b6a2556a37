"""The studio shapes section of the benchmark report (issue 10), from bench/shapes.sh's output.

report.py imports it: shapes_section(run_dir, meta) -> (markdown lines, failed checks).
Standard library only.
"""
import glob
import math
import os
import re

SCENARIOS = [
    ("spread", "book_slot", "an athlete books a slot"),
    ("cancel_rebook", "cancel_booking + book_slot", "an athlete cancels a booking to come, then books it again (two requests)"),
    ("my_bookings", "my_bookings()", "an athlete's bookings with their slots"),
    ("table_read", "GET /bookings", "PostgREST reads the table; row-level security alone picks the athlete's rows"),
    ("trainer_week", "a trainer's week", "a trainer's slots of the last 7 days with their bookings"),
]
# 0.2.0 (issue 12): runs only on a release with waitlists
WAITLIST = ("hot_waitlist", "cancel_booking + join_waitlist",
            "an athlete gives up a place in a full slot (the first athlete waiting is booked in the same "
            "transaction) and joins its waitlist again (two requests)")
SIDES = [("ext", "extension"), ("plpgsql", "PL/pgSQL baseline"), ("floor", "floor")]
# book_slot in 0.1.3's report (commit dbf5c12): (extension, PL/pgSQL, floor) bookings per second
# by (trainers, size, clients); its baseline had the seed's rules only.
SPREAD_0_1_3 = {
    (1, "small", 16): (3358, 2767, 6618), (1, "small", 1): (1073, 981, 1863),
    (1, "large", 16): (3214, 2817, 6333), (1, "large", 1): (964, 856, 1503),
    (3, "small", 16): (3320, 2740, 6383), (3, "small", 1): (1160, 970, 1673),
    (3, "large", 16): (3262, 2677, 6514), (3, "large", 1): (1133, 947, 1669),
    (100, "small", 16): (3282, 2820, 6629), (100, "small", 1): (1178, 1001, 1712),
    (100, "large", 16): (3292, 2785, 6294), (100, "large", 1): (1122, 961, 1695),
}
WITHIN = 0.10  # issue 12: booking within 10% of its 0.1 figures (throughput ÷ floor)
EXPLAINED = ["book_slot", "cancel_booking", "my_bookings()", "GET /bookings", "a trainer's bookings of the last week",
             "PL/pgSQL baseline: book_slot", "PL/pgSQL baseline: a trainer's bookings of the last week"]

# Targets of issue 10
GROWTH = 1.2          # median at ten times the history, over the small history's
VS_PLPGSQL = 1.5      # book_slot throughput over the PL/pgSQL baseline's
VS_FLOOR = 0.77       # book_slot throughput over the floor's
TRAINER_WEEK_MS = 2.0  # a trainer's week with 30 000 slots of history, p50


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _env(path):
    out = {}
    for line in _read(path).splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            out[k] = v
    return out


class Side:
    """One pgbench run of bench/shapes.sh: throughput and latency percentiles (ms)."""

    def __init__(self, d):
        out = _read(os.path.join(d, "r1", "pgbench.out"))
        m = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", out)
        self.tps = float(m.group(1)) if m else float("nan")
        m = re.search(r"number of failed transactions: (\d+)", out)
        self.ok = bool(out) and "aborted" not in out and m is not None and int(m.group(1)) == 0
        # Latency of a one-client run: the time from one transaction's end to the next's, from the
        # log's timestamps (pgbench's own per-transaction figure can read its clock before the
        # reply has been read, and logs 0-2 µs for some transactions on a busy machine).
        lat = []
        for path in glob.glob(os.path.join(d, "r1", "tx.*")):
            ends = []
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 6 and parts[4].isdigit() and parts[5].isdigit():
                        ends.append(int(parts[4]) * 1_000_000 + int(parts[5]))
            ends.sort()
            lat += [(b - a) / 1000.0 for a, b in zip(ends, ends[1:])]
        lat.sort()
        self.n = len(lat)
        self.p50 = _pct(lat, 50)
        self.p95 = _pct(lat, 95)
        # pgbench's own per-transaction latency (third field): for runs of many clients, where the
        # time between one transaction's end and the next's is another client's
        logged = []
        for path in glob.glob(os.path.join(d, "r1", "tx.*")):
            with open(path) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) >= 3 and parts[2].isdigit():
                        logged.append(int(parts[2]) / 1000.0)
        logged.sort()
        self.logged_p50 = _pct(logged, 50)
        m = re.search(r"number of transactions actually processed: (\d+)", out)
        self.tx = int(m.group(1)) if m else 0
        # the hot waitlist: promotions during the run (bench.wl_state before and after)
        before = _read(os.path.join(d, "r1", "wl_before")).split()
        after = _read(os.path.join(d, "r1", "wl_after")).split()
        self.promoted = (int(after[2]) - int(before[2])
                         if len(before) == 4 and len(after) == 4 and all(x.isdigit() for x in before + after) else None)
        self.wl_after = [int(x) for x in after] if len(after) == 4 and all(x.isdigit() for x in after) else None


def _pct(values, p):
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def _f(x, digits=2):
    return "–" if x != x else f"{x:.{digits}f}"


def _ratio(a, b):
    return float("nan") if not b or b != b or a != a else a / b


def _explain_sections(path):
    sections, cur = [], None
    for line in _read(path).splitlines():
        m = re.search(r"### (.*)$", line)
        if m:
            cur = (m.group(1).strip(), [])
            sections.append(cur)
            continue
        if cur is not None:
            cur[1].append(re.sub(r"^psql:[^:]*:\d+: ", "", line))
    out = {}
    for name, lines in sections:
        plans, p = [], None
        for line in lines:
            m = re.match(r"LOG:  duration: ([0-9.]+) ms  plan:", line)
            if m:
                p = [float(m.group(1)), []]
                plans.append(p)
            elif line.startswith(("ERROR:", "CONTEXT:")):
                plans.append([0.0, [line]])
            elif p is not None:
                p[1].append(line)
        out[name] = [(d, "\n".join(t).rstrip()) for d, t in plans if "set_config(" not in "\n".join(t)]
    return out


def _seq_scans(plans):
    tables = set()
    for _, text in plans:
        for m in re.finditer(r"Seq Scan on (\w+)", text):
            if m.group(1) in ("slots", "bookings", "activity_logs", "booking_status_history"):
                tables.add(m.group(1))
    return sorted(tables)


def shapes_section(run_dir, meta):
    base = os.path.join(run_dir, "shapes")
    meta = dict(meta, _run_dir=run_dir)
    shapes = [int(t) for t in meta.get("shapes", "").split()]
    L, failed, missed = [], [], []
    waitlist = os.path.isdir(os.path.join(base, f"{shapes[0]}t_small", "hot_waitlist.ext")) if shapes else False
    scenarios = SCENARIOS + ([WAITLIST] if waitlist else [])
    w = L.append
    if not shapes or not os.path.isdir(base):
        return L, failed
    data = {}
    for t in shapes:
        for size in ("small", "large"):
            d = os.path.join(base, f"{t}t_{size}")
            data[t, size] = {
                "meta": _env(os.path.join(d, "meta.env")),
                "runs": {f"{s}.{side}": Side(os.path.join(d, f"{s}.{side}"))
                         for s, _, _ in scenarios + [("spread16", "", ""), ("hot_waitlist16", "", "")]
                         for side, _ in SIDES},
                "explain": _explain_sections(os.path.join(d, "explain.txt")),
            }
    secs = meta.get("shape_secs", "?")
    w("## Studio shapes and history growth\n")
    w("Studios as our users have them (issue 10): one trainer owning every slot, three trainers, a hundred; each "
      f"at a small history ({int(meta.get('shape_small_slots', 0)):,} slots, {int(meta.get('shape_small_bookings', 0)):,} "
      f"bookings, {int(meta.get('shape_athletes', 0)):,} athletes) and at ten times it (ten times the slots, bookings and "
      "athletes: each athlete has about as many bookings at both sizes, so an athlete's own list is as long), in "
      "databases of their own on the same cluster, in this same run. Data as in the main data set (`bench/sql/load.sql`: half the slots in "
      "the past, every slot 8 hours after its trainer's previous one, a log entry per slot and per booking change, a "
      "history row per status change). Beside the extension: the **PL/pgSQL baseline** (`bench/sql/plpgsql.sql`: the "
      "seed's rules written by hand as a competent team would — the capacity check locking the slot, the cancellation "
      "window, one history row per status change, an audit-log entry per change with the changed fields, row-level "
      "security with the seed's policies, `auth.uid()` read from the claims and wrapped in `(SELECT …)`; on its own "
      "copy of the same rows) and the **floor** (`bench/sql/floor.sql`: no rules, no log, no RLS).\n")
    w(f"Each request runs one client at a time for {secs} s (booking: one booking per empty slot, counted; its median "
      "is the request's own cost, without queueing), in "
      "the same PostgREST envelope as above; booking also runs with "
      f"{meta.get('clients', '16')} clients, the same number of bookings on every side (4 per empty slot of the small history, after the one-client run's 1). The extension's trainer arm, `trainer_id = (SELECT active_user_id())`, "
      "is an index probe on the copy of the slot's trainer each booking carries.\n")
    w("| shape | data (small → ten times) | trainer 1's slots |")
    w("|---|---|--:|")
    for t in shapes:
        s, g = data[t, "small"]["meta"], data[t, "large"]["meta"]
        w(f"| {t} trainer{'s' if t > 1 else ''} | {s.get('slots', '?')} → {g.get('slots', '?')} slots, "
          f"{s.get('bookings', '?')} → {g.get('bookings', '?')} bookings, {s.get('activity_logs', '?')} → "
          f"{g.get('activity_logs', '?')} log rows, {s.get('history', '?')} → {g.get('history', '?')} history rows "
          f"({s.get('db_size', '?')} → {g.get('db_size', '?')}; loaded in {_f(float(s.get('load_secs', 'nan')), 0)} s → "
          f"{_f(float(g.get('load_secs', 'nan')), 0)} s) | {s.get('slots_of_trainer_1', '?')} → {g.get('slots_of_trainer_1', '?')} |")
    w("")

    # medians, one client
    w("### Each request at ten times the history\n")
    w(f"Median latency in ms, one client at a time. Target: the extension's median at ten times the history within "
      f"{GROWTH}× of the small history's, in every shape.\n")
    w("| shape | request | extension small | extension ×10 | ratio | met | PL/pgSQL small | PL/pgSQL ×10 | ratio | floor small | floor ×10 | ratio |")
    w("|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|")
    for t in shapes:
        for s, label, what in scenarios:
            cells = []
            verdict = ""
            for side, _ in SIDES:
                a, b = data[t, "small"]["runs"][f"{s}.{side}"], data[t, "large"]["runs"][f"{s}.{side}"]
                r = _ratio(b.p50, a.p50)
                cells += [_f(a.p50, 3), _f(b.p50, 3), _f(r, 2) + "×"]
                if side == "ext":
                    ok = r == r and r <= GROWTH
                    verdict = "**yes**" if ok else "**no**"
                    cells.append(verdict)
                    if not ok:
                        missed.append(f"{label}, {t} trainer(s): the median grew {_f(r, 2)}× with ten times the history "
                                      f"({_f(a.p50, 3)} → {_f(b.p50, 3)} ms), {_f(r / GROWTH, 2)}× the {GROWTH}× allowed")
                if not (a.ok and b.ok):
                    failed.append(f"shape {t}: {s}.{side} did not run cleanly")
            w(f"| {t} | {label}<br><sub>{what}</sub> | " + " | ".join(cells) + " |")
    w("")

    # booking throughput
    w("### book_slot against the PL/pgSQL baseline and the floor\n")
    w(f"Throughput in bookings per second. Targets: the extension at least {VS_PLPGSQL}× the PL/pgSQL baseline's "
      f"throughput and at least {VS_FLOOR}× the floor's, with {meta.get('clients', '16')} clients and one at a time, "
      "in every shape; and (issue 12) its throughput ÷ the floor's within 10% of 0.1.3's (that report's figures "
      "in the last columns)."
      + (" The PL/pgSQL baseline has release 0.2.0's rules too (`bench/sql/plpgsql_week.sql`: the booking "
         "window, the limit, the places held for a waitlist, the waiting entry ended, an event); "
         "0.1.3's had the seed's alone.\n" if waitlist else "\n"))
    w("| shape | history | clients | extension | PL/pgSQL | floor | ÷ PL/pgSQL | met | ÷ floor | met | ÷ floor in 0.1.3 | change | within 10% |")
    w("|---|---|--:|--:|--:|--:|--:|---|--:|---|--:|--:|---|")
    for t in shapes:
        for size in ("small", "large"):
            for name, clients in (("spread16", meta.get("clients", "16")), ("spread", "1")):
                e, p, f = (data[t, size]["runs"][f"{name}.{side}"] for side, _ in SIDES)
                rp, rf = _ratio(e.tps, p.tps), _ratio(e.tps, f.tps)
                okp, okf = rp == rp and rp >= VS_PLPGSQL, rf == rf and rf >= VS_FLOOR
                old = SPREAD_0_1_3.get((t, size, int(clients)))
                then = _ratio(old[0], old[2]) if old else float("nan")
                change = _ratio(rf, then) - 1
                within = "–" if change != change else ("yes" if change >= -WITHIN else "**no**")
                if change == change and change < -WITHIN:
                    missed.append(f"book_slot, {t} trainer(s), {size} history, {clients} client(s): {_f(rf, 2)}× the "
                                  f"floor against {_f(then, 2)}× in 0.1.3 ({100 * change:+.0f}%, more than 10% lost)")
                w(f"| {t} | {'small' if size == 'small' else '×10'} | {clients} | {_f(e.tps, 0)} | {_f(p.tps, 0)} | "
                  f"{_f(f.tps, 0)} | {_f(rp, 2)}× | {'**yes**' if okp else '**no**'} | {_f(rf, 2)}× | "
                  f"{'**yes**' if okf else '**no**'} | {_f(then, 2)}× | "
                  f"{'–' if change != change else f'{100 * change:+.0f}%'} | {within} |")
                if not okp:
                    missed.append(f"book_slot, {t} trainer(s), {size} history, {clients} client(s): {_f(rp, 2)}× the "
                                  f"PL/pgSQL baseline, short of {VS_PLPGSQL}× by {_f(VS_PLPGSQL / rp, 2)}×")
                if not okf:
                    missed.append(f"book_slot, {t} trainer(s), {size} history, {clients} client(s): {_f(rf, 2)}× the "
                                  f"floor, short of {VS_FLOOR}× by {_f(VS_FLOOR / rf, 2)}×")
    w("")

    if waitlist:
        _waitlist_table(w, shapes, data, meta, failed)

    # a trainer's week with 30 000 slots of history
    w("### A trainer's bookings of the last week\n")
    w(f"Target: p50 under {TRAINER_WEEK_MS} ms with 30 000 slots of the trainer's history (the shapes where trainer 1 has "
      "that many).\n")
    w("| shape | history | trainer 1's slots | extension p50 ms | p95 ms | PL/pgSQL p50 ms | floor p50 ms | met |")
    w("|---|---|--:|--:|--:|--:|--:|---|")
    for t in shapes:
        for size in ("small", "large"):
            n = int(data[t, size]["meta"].get("slots_of_trainer_1", "0") or 0)
            e, p, f = (data[t, size]["runs"][f"trainer_week.{side}"] for side, _ in SIDES)
            applies = n >= 30000
            ok = e.p50 == e.p50 and e.p50 < TRAINER_WEEK_MS
            mark = ("**yes**" if ok else "**no**") if applies else "–"
            if applies and not ok:
                missed.append(f"a trainer's week, {t} trainer(s), {n:,} slots: p50 {_f(e.p50, 3)} ms, "
                              f"{_f(e.p50 / TRAINER_WEEK_MS, 2)}× the {TRAINER_WEEK_MS} ms allowed")
            w(f"| {t} | {'small' if size == 'small' else '×10'} | {n:,} | {_f(e.p50, 3)} | {_f(e.p95, 3)} | "
              f"{_f(p.p50, 3)} | {_f(f.p50, 3)} | {mark} |")
    w("")

    # targets missed, and sequential scans seen in the plans
    w("### Targets missed\n")
    if missed:
        for m in missed:
            w(f"- {m}.")
        w("")
        w("Why, in each case: *Reading the shapes* below.\n")
    else:
        w("None: every target above is met in this run.\n")
    scans = []
    for t in shapes:
        for size in ("small", "large"):
            for name in EXPLAINED:
                if name.startswith("PL/pgSQL"):
                    continue
                tables = _seq_scans(data[t, size]["explain"].get(name, []))
                if tables:
                    scans.append(f"{name} ({t} trainer(s), {size}): {', '.join(tables)}")
    w("Sequential scans of slots, bookings, the log or the history in the extension's plans below: "
      + ("; ".join(scans) if scans else "none") + ".\n")

    _reading(w, shapes, data, meta)

    # EXPLAIN
    w("### EXPLAIN ANALYZE of the hot requests, at both sizes\n")
    w("Every statement a request runs, nested ones included (the API's PL/pgSQL, the rules' SPI statements, "
      "row-level security's InitPlans), from `auto_explain` (`bench/sql/shapes_explain.sql`); writes rolled back.\n")
    for t in shapes:
        for size in ("small", "large"):
            ex = data[t, size]["explain"]
            w(f"<details><summary><b>{t} trainer{'s' if t > 1 else ''}, {'small history' if size == 'small' else 'ten times the history'}</b></summary>\n")
            for name in EXPLAINED:
                plans = ex.get(name, [])
                w(f"**{name}**\n")
                w("```\n" + ("\n\n".join(f"-- {d:.3f} ms\n{text}" for d, text in plans) or "(not captured)") + "\n```\n")
            w("</details>\n")
    return L, failed


def _waitlist_table(w, shapes, data, meta, failed):
    """The hot-slot cancellation with waitlist with many clients, every side, every shape."""
    clients = meta.get("clients", "16")
    cap, waiting = meta.get("wl_capacity", "?"), meta.get("wl_waiting", "?")
    w("### Hot-slot cancellation with waitlist, every side\n")
    w(f"The scenario of *Hot-slot cancellation with waitlist* above ({cap}-place slots, full, {waiting} athletes "
      f"waiting; a cancellation books the first of them in the same transaction, the athlete who cancelled joins "
      f"the line again) with {clients} clients, {meta.get('shape_secs', '?')} s per side, on the extension, the "
      "PL/pgSQL baseline (`bench/sql/plpgsql_week.sql`: the same promotion in an AFTER UPDATE trigger under the "
      "slot lock its `cancel_booking` takes first, with history, log and event rows) and the floor "
      "(plain tables, no rules). Cycles per second (two requests each) and the median cycle; one client at a time, "
      "the medians are in the table of each request at ten times the history above.\n")
    w("| shape | history | extension | PL/pgSQL | floor | ÷ PL/pgSQL | ÷ floor | p50 ms: extension | PL/pgSQL | floor | promotions = cycles |")
    w("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|")
    for t in shapes:
        for size in ("small", "large"):
            e, p, f = (data[t, size]["runs"][f"hot_waitlist16.{side}"] for side, _ in SIDES)
            ok = all(r.promoted is not None and r.promoted == r.tx for r in (e, p, f))
            for side, r in zip(("extension", "PL/pgSQL", "floor"), (e, p, f)):
                if r.promoted is not None and r.promoted != r.tx:
                    failed.append(f"shape {t} {size}: hot waitlist on the {side}: {r.promoted} promotions in {r.tx} cycles")
                if not r.ok:
                    failed.append(f"shape {t}: hot_waitlist16 on the {side} did not run cleanly")
            w(f"| {t} | {'small' if size == 'small' else '×10'} | {_f(e.tps, 0)} | {_f(p.tps, 0)} | {_f(f.tps, 0)} | "
              f"{_f(_ratio(e.tps, p.tps), 2)}× | {_f(_ratio(e.tps, f.tps), 2)}× | {_f(e.logged_p50, 1)} | "
              f"{_f(p.logged_p50, 1)} | {_f(f.logged_p50, 1)} | {'yes' if ok else '**no**'} |")
    w("")


def _main_tps(meta, name):
    """Throughput of a scenario of the main data set (logs/NAME/r*/), over its rounds."""
    tx = busy = 0.0
    for out in glob.glob(os.path.join(meta["_run_dir"], "logs", name, "r*", "pgbench.out")):
        text = _read(out)
        t = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
        n = re.search(r"number of transactions actually processed: (\d+)", text)
        if t and n and float(t.group(1)) > 0:
            tx += int(n.group(1))
            busy += int(n.group(1)) / float(t.group(1))
    return tx / busy if busy else float("nan")


def _reading(w, shapes, data, meta):
    """Why the figures are what they are: what the plans show, and what the targets measure."""
    def p50(t, size, name):
        return data[t, size]["runs"][name].p50

    def tps(t, size, name):
        return data[t, size]["runs"][name].tps

    big = max(shapes)
    few = min(shapes)
    w("### Reading the shapes\n")
    w("- **Plans.** In every shape and at both sizes each hot request reaches slots, bookings, the log and the "
      "history by index (the plans below; the integration test `history_plans` checks the same, and fails on 0.1.2's "
      "policies). An athlete's request pays for the trainer's arm of the bookings policy with one probe of "
      "`bookings_trainer_idx` that finds nothing; a trainer's week reads its 21 slots and their bookings. The PL/pgSQL "
      "baseline, with the seed's policies, reads every booking for each athlete's `my_bookings()` and `GET /bookings` "
      f"(its `EXISTS` arm is checked row by row: {_f(p50(few, 'small', 'my_bookings.plpgsql'), 1)} → "
      f"{_f(p50(few, 'large', 'my_bookings.plpgsql'), 1)} ms for `my_bookings()` with {few} trainer(s), against "
      f"{_f(p50(few, 'small', 'my_bookings.ext'), 3)} → {_f(p50(few, 'large', 'my_bookings.ext'), 3)} ms for the extension).")
    growth = [(_ratio(p50(t, "large", f"{n}.ext"), p50(t, "small", f"{n}.ext")), t, label)
              for t in shapes for n, label, _ in SCENARIOS + [WAITLIST]
              if f"{n}.ext" in data[t, "small"]["runs"]]
    growth = [g for g in growth if g[0] == g[0]]
    worst = max(growth) if growth else (float("nan"), 0, "")
    w("- **History.** The extension's plans are the same at both sizes and read the same rows (the plans below); "
      f"the largest growth of a median with ten times the history is {_f(worst[0], 2)}× ({worst[2]}, {worst[1]} "
      "trainer(s)). Where a median grows, the cause to look for is memory, not reach: the large databases (over 1 GB "
      "each, beside the main data set) do not fit the cluster's `shared_buffers = 1GB`, so a request may find some of "
      "its pages in the operating system's cache instead (`Buffers: shared read=` in the plans); the floor, with no "
      "rules and no RLS, is subject to the same.")
    w("- **One client, writes.** A write request's median includes its durable commit (`synchronous_commit = on`, "
      f"`fsync = on`): `book_slot` takes {_f(p50(big, 'large', 'spread.floor'), 3)} ms on the floor, "
      f"{_f(p50(big, 'large', 'spread.plpgsql'), 3)} ms on the PL/pgSQL baseline and {_f(p50(big, 'large', 'spread.ext'), 3)} ms "
      f"on the extension ({big} trainers, ten times the history). On a busy machine the WAL flush dominates all three "
      "and the one-client ratios drift toward 1; they are worth reading only beside the 16-client ones.")
    week = "hot_waitlist.ext" in data[few, "small"]["runs"]
    r16 = _ratio(tps(big, 'large', 'spread16.ext'), tps(big, 'large', 'spread16.plpgsql'))
    r1 = _ratio(tps(big, 'large', 'spread.ext'), tps(big, 'large', 'spread.plpgsql'))
    w(f"- **`book_slot` against the PL/pgSQL baseline ({_f(r16, 2)}× with {meta.get('clients', '16')} clients, "
      f"{_f(r1, 2)}× one at a time, {big} trainers at ten times the history; target 1.5×).** Both do the work the "
      "rules require for a booking: lock the slot, count its places, insert the booking, insert the log entry with "
      "the changed fields"
      + (", count the places a waitlist holds, end the athlete's waiting entry, write an event"
         if week else "") +
      ", commit. The extension does a little more (the writer's own row locked first for the lock "
      "order, the athlete's account and the slot's start checked under the lock, the copy of the slot's trainer), "
      "in Rust with prepared plans where the baseline runs PL/pgSQL; but a booking is mostly the same rows written "
      "and the same WAL flushed on both sides."
      +
      " Where the extension is many times faster is the reads under row-level security (above).")
    w(f"- **`book_slot` against the floor ({_f(_ratio(tps(big, 'large', 'spread16.ext'), tps(big, 'large', 'spread16.floor')), 2)}× "
      f"with {meta.get('clients', '16')} clients; target 0.77×).** The floor writes the booking alone (same keys, "
      "foreign keys and indexes): no log entry, no row-level security, no lock-order or account checks; the "
      "extension's extra rows and statements per booking are its rules (*Why: where the time goes* above profiles "
      "them on the main data set). The ratio does not depend on the studio's shape or history (the table)"
      + "; closing it is not part of this change.")
    main = _ratio(_main_tps(meta, "spread.ext"), _main_tps(meta, "spread.floor"))
    w("- **The copies of the slot's trainer** cost a booking no look-up of their own since 0.2.2: the guard's lock "
      "statement reads the trainer with the slot, and the rule that writes a log entry or a history row hands over "
      "the trainer of the row it has in hand (`src/rules/held_slot.rs`, `trainer::writing_about`); the main data "
      f"set's spread-booking ratio to its floor is {_f(main, 2)}× in this run, where 0.1.2's report had 0.53×.\n")
