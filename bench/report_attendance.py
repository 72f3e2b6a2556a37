"""Release 0.2.2's part of the benchmark report (issue 14), imported by report.py: the report-query
scenario. One trainer's month (as the trainer) and the studio's month (as an app admin) of
slot_report, trainer_report and athlete_report at the main data set's history, one client at a
time, beside their floor (the same figures in plain SQL, superuser); and EXPLAIN ANALYZE of each
report (bench/sql/explain_report.sql), read for whether every table the reports count is reached by
index: the issue's "stays index-driven". Standard library only.

section(L, run, meta, run_dir, smoke) appends the section's lines to L and returns the checks that
failed: a report whose plan scans slots, bookings, attendance or waitlist_entries whole, a report
not captured, or a run without a clean result. (The smoke run's data are too small for the
planner's choices there to say anything: its plans are shown and judged, but not failed.)
"""
import html
import math
import os
import re

import report_week  # bench/report_week.py: the reports' shared helpers

# The tables a report must reach by index: everything else it reads is one row (the settings) or
# the people it names (users, by primary key).
INDEXED = ("slots", "bookings", "attendance", "waitlist_entries")

SCENARIOS = (
    ("report_trainer", "One trainer's month", "as the trainer: their slots, their athletes"),
    ("report_studio", "The studio's month", "as an app admin: every trainer's slots, every athlete"),
)

REPORTS = ("slot_report", "trainer_report", "athlete_report")
WHO = {"report_trainer": "one trainer-month (as the trainer)", "report_studio": "the studio-month (as an app admin)"}


def _f(x, digits=2):
    return report_week._f(x, digits)


def explain_sections(path):
    """{section title: [(duration ms, plan text)]} from auto_explain's LOG lines on psql's stderr."""
    out, name, plans, cur = {}, None, None, None
    for line in report_week._read(path).splitlines():
        line = re.sub(r"^psql:[^:]*:\d+: ", "", line)
        if line.startswith("### "):
            name, plans, cur = line[4:], [], None
            out[name] = plans
            continue
        if plans is None:
            continue
        m = re.match(r"LOG:  duration: ([0-9.]+) ms  plan:", line)
        if m:
            cur = [float(m.group(1)), []]
            plans.append(cur)
        elif line.startswith(("ERROR:", "CONTEXT:")):
            plans.append([0.0, [line]])
            cur = None
        elif cur is not None:
            cur[1].append(line)
    return {k: [(d, "\n".join(t).rstrip()) for d, t in v if "set_config(" not in "\n".join(t)]
            for k, v in out.items()}


def judge(plans):
    """(whole scans of the indexed tables, indexes used, error text or None) over a report's plans."""
    text = "\n\n".join(t for _, t in plans)
    scans = sorted({m.group(1) for m in re.finditer(r"Seq Scan on (\w+)", text) if m.group(1) in INDEXED})
    indexes = sorted(set(re.findall(r"(?:Index Scan|Index Only Scan|Bitmap Index Scan)(?: Backward)? (?:using|on) (\w+)", text)))
    error = next((t for _, t in plans if t.startswith(("ERROR:", "CONTEXT:"))), None)
    return scans, indexes, error


def section(L, run, meta, run_dir, smoke):
    w = L.append
    failed = []
    if meta.get("has_attendance") != "t":
        return failed
    if not any(os.path.isdir(os.path.join(run_dir, "logs", f"{s}.ext")) for s, _, _ in SCENARIOS):
        return failed
    sections = explain_sections(os.path.join(run_dir, "explain_report.txt"))
    n = lambda k: int(meta.get(k, "0") or 0)  # noqa: E731
    w("## Attendance reports (0.2.2)\n")
    w(f"Issue 14: *the benchmark's report-query scenario (one trainer's month, one studio's month at the large history) "
      f"stays index-driven*. The main data set's history (`bench/sql/load.sql`): {n('slots'):,} slots, "
      f"{n('bookings'):,} bookings, {n('report_marks'):,} attendance marks (every completed booking checked in, one in "
      f"ten a no-show, one in fifty of those excused). The month is the studio's days {meta.get('report_month', '?')} "
      f"(UTC): {n('report_month_slots'):,} slots and {n('report_month_bookings'):,} bookings in it, "
      f"{n('report_month_slots') // max(1, n('trainers')):,} slots of the trainer. Each scenario is three PostgREST "
      "requests (`slot_report`, `trainer_report`, `athlete_report`), one client at a time, so the latency is the "
      "reports' own; the floor computes the same figures in plain SQL as the superuser (no row-level security, no "
      "function calls).\n")
    w("| scenario | who | side | transactions | p50 ms | p95 ms | per request, ms (slot / trainer / athlete) | p50 ÷ floor |")
    w("|---|---|---|--:|--:|--:|---|--:|")
    for key, label, who in SCENARIOS:
        e, f = run(f"{key}.ext"), run(f"{key}.floor")
        for side, r in (("extension", e), ("floor", f)):
            per = " / ".join(_f(ms) for _, ms in r.calls) if r.calls else "–"
            ratio = e.p50 / f.p50 if side == "extension" and f.p50 and not math.isnan(f.p50) else float("nan")
            w(f"| {label} | {who if side == 'extension' else 'superuser'} | {side} | {r.tx:,} | {_f(r.p50)} | "
              f"{_f(r.p95)} | {per} | {_f(ratio) + '×' if side == 'extension' else ''} |")
            if not r.ok:
                failed.append(f"{key}.{'ext' if side == 'extension' else 'floor'}: no clean result")
    w("")
    w("### Is every table reached by index?\n")
    w(f"From `auto_explain` (nested statements, `log_analyze`) of each report: any `Seq Scan` on "
      f"{', '.join('`' + t + '`' for t in INDEXED)} would read the whole history and grow with it.\n")
    w("| report | plans | whole scans of the history | indexes used |")
    w("|---|--:|---|---|")
    verdicts = []
    for key, _, _ in SCENARIOS:
        for report in REPORTS:
            title = f"{report}: {WHO[key]}"
            plans = sections.get(title)
            if not plans:
                w(f"| {html.escape(title)} | 0 | (not captured) | |")
                verdicts.append((title, "not captured"))
                continue
            scans, indexes, error = judge(plans)
            shown = "**" + ", ".join(scans) + "**" if scans else "none"
            if error:
                shown = "**error**: " + html.escape(error[:120])
            w(f"| {html.escape(title)} | {len(plans)} | {shown} | {', '.join('`' + i + '`' for i in indexes) or '–'} |")
            if scans or error:
                verdicts.append((title, error or "scans " + ", ".join(scans)))
    w("")
    if verdicts:
        text = "; ".join(f"{t} ({why})" for t, why in verdicts)
        if smoke:
            w(f"**Not index-driven in this smoke run** (tiny data: the planner may rightly prefer a scan): {text}.\n")
        else:
            w(f"**Not index-driven:** {text}.\n")
            failed.append("attendance reports not index-driven: " + text)
    else:
        w("Every report reaches slots by their start (or trainer and start), bookings by slot, marks by booking and "
          "promotions by booking: nothing in these plans reads the history whole.\n")
    for key, _, _ in SCENARIOS:
        for report in REPORTS:
            title = f"{report}: {WHO[key]}"
            plans = sections.get(title) or []
            w(f"<details><summary><b>{html.escape(title)}</b>: its statements, nested ones included (for "
              "athlete_report those of 1 ms or more)</summary>\n")
            w("```\n" + ("\n\n".join(f"-- {d:.3f} ms\n{t}" for d, t in plans) or "(not captured)") + "\n```\n")
            w("</details>\n")
    return failed
