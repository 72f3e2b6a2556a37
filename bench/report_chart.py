"""The benchmark report's chart (benchmarks.svg), for bench/report.py: per scenario, the
extension's throughput as a fraction of its floor's (left panel) and both sides' median latency
on a log scale (right panel), with the targets. Standard library only."""

import html
import math


def svg_chart(chart_rows, run, ratio, target_check, fmt, meta, smoke, clients):
    W, row_h, top, left = 980, 34, 70, 300
    panel_w = 290
    gap = 60
    x1 = left                     # panel 1: throughput as a fraction of the floor (linear 0..1.2)
    x2 = left + panel_w + gap     # panel 2: p50 latency, extension vs floor (log scale)
    H = top + row_h * len(chart_rows) + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">'
           f'gym_booking {"smoke run" if smoke else "benchmark"}: the extension against its floor '
           f'({html.escape(meta.get("cores", "?"))} cores, {clients} clients)</text>',
           f'<text x="{x1 + panel_w / 2}" y="48" text-anchor="middle" font-weight="bold">throughput ÷ floor throughput</text>',
           f'<text x="{x2 + panel_w / 2}" y="48" text-anchor="middle" font-weight="bold">median latency, ms (log scale)</text>']
    # panel 1 axis
    scale1 = lambda r: x1 + panel_w * min(r, 1.2) / 1.2  # noqa: E731
    y_end = top + row_h * len(chart_rows)
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        x = scale1(tick)
        out.append(f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{y_end}" stroke="#ddd"/>')
        out.append(f'<text x="{x}" y="{y_end + 16}" text-anchor="middle" fill="#555">{tick:g}×</text>')
    # panel 2 axis: decades covering the data
    lats = [v for s in chart_rows for v in (run(s[3]).p50, run(s[4]).p50) if v and not math.isnan(v) and v > 0]
    lo = 10 ** math.floor(math.log10(min(lats))) if lats else 0.01
    hi = 10 ** math.ceil(math.log10(max(lats))) if lats else 1000
    if hi <= lo:
        hi = lo * 10
    scale2 = lambda v: x2 + panel_w * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))  # noqa: E731
    d = lo
    while d <= hi * 1.0001:
        x = scale2(d)
        out.append(f'<line x1="{x}" y1="{top - 6}" x2="{x}" y2="{y_end}" stroke="#ddd"/>')
        out.append(f'<text x="{x}" y="{y_end + 16}" text-anchor="middle" fill="#555">{d:g}</text>')
        d *= 10
    for i, (key, label, _, e_name, f_name, _, target) in enumerate(chart_rows):
        e, f = run(e_name), run(f_name)
        y = top + i * row_h
        out.append(f'<text x="{left - 10}" y="{y + 18}" text-anchor="end">{html.escape(label)}</text>')
        r = ratio(e.tps, f.tps)
        met, _ = target_check(target, e, f)
        verdict = "#2e7d32" if met else ("#c62828" if met is False else "#1565c0")
        color = verdict if target and target[0] == "tps" else "#1565c0"       # left panel: throughput targets
        color2 = verdict if target and target[0] == "p50" else "#1565c0"      # right panel: latency targets
        if not math.isnan(r):
            out.append(f'<rect x="{x1}" y="{y + 6}" width="{max(scale1(r) - x1, 1):.1f}" height="{row_h - 14}" fill="{color}"/>')
            out.append(f'<text x="{scale1(r) + 4:.1f}" y="{y + 18}" fill="#222">{r:.2f}×{"" if r <= 1.2 else " →"}</text>')
        if target and target[0] == "tps":
            tx = scale1(target[1])
            out.append(f'<line x1="{tx}" y1="{y + 2}" x2="{tx}" y2="{y + row_h - 4}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>')
        # panel 2: two thin bars
        for j, (rr, col) in enumerate(((e, color2), (f, "#9e9e9e"))):
            v = rr.p50
            if v and not math.isnan(v):
                yy = y + 5 + j * 11
                out.append(f'<rect x="{x2}" y="{yy}" width="{max(scale2(v) - x2, 1):.1f}" height="9" fill="{col}"/>')
                out.append(f'<text x="{scale2(v) + 4:.1f}" y="{yy + 8}" font-size="10" fill="#222">{fmt(v, 3)}</text>')
        if target and target[0] == "p50":
            tx = scale2(target[1])
            out.append(f'<line x1="{tx}" y1="{y + 2}" x2="{tx}" y2="{y + row_h - 4}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>')
    ly = H - 18
    items = [("#2e7d32", "extension, target met"), ("#c62828", "extension, target missed"),
             ("#1565c0", "extension, no target"), ("#9e9e9e", "floor")]
    x = 40
    for col, text in items:
        out.append(f'<rect x="{x}" y="{ly - 9}" width="12" height="10" fill="{col}"/><text x="{x + 16}" y="{ly}">{text}</text>')
        x += 30 + 7 * len(text)
    out.append(f'<line x1="{x}" y1="{ly - 10}" x2="{x}" y2="{ly + 2}" stroke="#000" stroke-width="2" stroke-dasharray="3,2"/>'
               f'<text x="{x + 6}" y="{ly}">target</text>')
    out.append("</svg>")
    return "\n".join(out)
