#!/usr/bin/env python3
"""Reads `perf script -F ip,sym` output (call stacks of the server's backends, recorded by
bench/run.sh during a booking run) and prints, tab-separated, the share of samples whose stack
passes through each part of the booking path: inclusive CPU shares, not exclusive ones, so the
lines overlap (a helper called from an RLS check counts in both)."""

import sys

# label, every function the stack must contain (matched by prefix)
PARTS = [
    ("all of book_slot (the PL/pgSQL function)", ("plpgsql_exec_function",)),
    ("RLS policy checks on the INSERT (WITH CHECK)", ("ExecWithCheckOptions",)),
    ("RLS InitPlans: (SELECT active_user_id()), (SELECT is_trainer()), …", ("ExecSetParamPlan",)),
    ("SQL functions planned at each call (fmgr_sql)", ("fmgr_sql",)),
    ("trigger bookings_capacity_guard", ("bookings_capacity_guard_wrapper",)),
    ("  … of which its SQL statements (lock athlete and slot; count)", ("bookings_capacity_guard_wrapper", "SPI_execute")),
    ("trigger activity_log", ("activity_log_wrapper",)),
    ("  … of which the INSERT into activity_logs", ("activity_log_wrapper", "SPI_execute_plan")),
    ("the caller's identity (claims, users row; once per statement)", ("gym_booking::identity::",)),
    ("AsOwner::enter (per rule statement)", ("gym_booking::plans::AsOwner::enter",)),
    ("  … of which reading the extension's owner (once per transaction)", ("gym_booking::plans::extension_owner",)),
    ("GUC save/restore (AtEOXact_GUC)", ("AtEOXact_GUC",)),
    ("executor start-up, every statement (ExecutorStart)", ("standard_ExecutorStart",)),
    ("planning anything (pg_plan_query)", ("pg_plan_query",)),
    ("commit: WAL flush (XLogFlush)", ("XLogFlush",)),
]


def main(path):
    samples, cur = [], []
    with open(path, errors="replace") as f:
        for line in f:
            s = line.strip()
            if not s:
                if cur:
                    samples.append(cur)
                cur = []
                continue
            parts = s.split(None, 1)
            cur.append(parts[1] if len(parts) > 1 else "")
    if cur:
        samples.append(cur)
    n = len(samples)
    print(f"samples\t{n}")
    if not n:
        return
    for label, needles in PARTS:
        c = sum(1 for st in samples if all(any(fr.startswith(nd) for fr in st) for nd in needles))
        print(f"{100.0 * c / n:.1f}\t{label}")


main(sys.argv[1])
