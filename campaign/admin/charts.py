"""Charts drawn on the server as SVG: no JavaScript library, readable without JavaScript."""

from __future__ import annotations

from datetime import date
from html import escape

_MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin",
           "juil.", "août", "sept.", "oct.", "nov.", "déc.")  # fmt: skip


def short_date(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]}"


def _nice_max(value: int) -> int:
    for step in (5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 50_000):
        if value <= step:
            return step
    return value


def daily_bars(days: list[tuple[date, int, int]], *, width: int = 720, height: int = 220) -> str:
    """Bars of signatures received per day, the confirmed part darker; one <title> per bar."""
    left, bottom, top = 40, 28, 10
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = _nice_max(max((received for _, received, _ in days), default=0) or 1)
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="chart-title" class="chart">',
        '<title id="chart-title">Signatures reçues et confirmées par jour</title>',
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 8}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{int(peak * fraction)}</text>'
        )
    label_every = max(1, len(days) // 8)
    for i, (day, received, confirmed) in enumerate(days):
        x = left + i * slot + (slot - bar) / 2
        h_all = plot_h * received / peak
        h_ok = plot_h * min(confirmed, received or confirmed) / peak
        tip = escape(f"{short_date(day)} : {received} reçue(s), {confirmed} confirmée(s)")
        out.append(
            f"<g><title>{tip}</title>"
            f'<rect x="{x:.1f}" y="{top + plot_h - h_all:.1f}" width="{bar:.1f}" '
            f'height="{h_all:.1f}" class="received"/>'
            f'<rect x="{x:.1f}" y="{top + plot_h - h_ok:.1f}" width="{bar:.1f}" '
            f'height="{h_ok:.1f}" class="confirmed"/></g>'
        )
        if i % label_every == 0:
            out.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle">'
                f"{escape(short_date(day))}</text>"
            )
    out.append("</svg>")
    return "".join(out)


def coverage_line(
    days: list[tuple[date, int]], total: int, *, width: int = 360, height: int = 160
) -> str:
    """The communes whose maire has signed, day by day, out of `total`: a line over an area."""
    left, bottom, top, right = 34, 24, 10, 8
    plot_w, plot_h = width - left - right, height - bottom - top
    peak = max(total, 1)
    step = plot_w / max(len(days) - 1, 1)
    points = [
        (left + i * step, top + plot_h * (1 - count / peak)) for i, (_, count) in enumerate(days)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"{left},{top + plot_h} {line} {left + plot_w:.1f},{top + plot_h}"
    last = days[-1][1] if days else 0
    title = f"Communes dont le maire a signé\u202f: {last} sur {total}"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="coverage-title" class="chart coverage">',
        f'<title id="coverage-title">{escape(title)}</title>',
    ]
    for fraction in (0, 0.5, 1):
        y = top + plot_h * (1 - fraction)
        out.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">'
            f"{round(peak * fraction)}</text>"
        )
    if points:
        out.append(f'<polygon points="{area}" class="received"/>')
        out.append(
            f'<polyline points="{line}" fill="none" stroke="currentColor" stroke-width="2"/>'
        )
        for i in (0, len(days) - 1):
            anchor = "start" if i == 0 else "end"
            out.append(
                f'<text x="{points[i][0]:.1f}" y="{height - 6}" text-anchor="{anchor}">'
                f"{escape(short_date(days[i][0]))}</text>"
            )
    out.append("</svg>")
    return "".join(out)
