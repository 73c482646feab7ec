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
