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
    ("SQL helper functions (fmgr_sql: active_user_id, is_trainer, current_app_role)", ("fmgr_sql",)),
    ("  … of which planning their body again (pg_plan_query)", ("fmgr_sql", "pg_plan_query")),
    ("  … of which parsing and analysing it again", ("fmgr_sql", "pg_analyze_and_rewrite")),
    ("trigger bookings_capacity_guard", ("bookings_capacity_guard_wrapper",)),
    ("trigger activity_log", ("activity_log_wrapper",)),
    ("Actor::current() (in the triggers)", ("gym_booking::identity::Actor::current",)),
    ("reading the JWT claims (serde_json parse, every current_user_id())", ("gym_booking::identity::claimed_user_id",)),
    ("AsOwner::enter (per SPI statement)", ("gym_booking::plans::AsOwner::enter",)),
    ("  … of which get_extension_oid (a pg_extension scan, per SPI statement)", ("get_extension_oid",)),
    ("GUC save/restore (AtEOXact_GUC)", ("AtEOXact_GUC",)),
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
