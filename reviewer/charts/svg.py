"""Small SVG charts people read at a glance: a stacked bar, stacked columns over time, bars, sparkbars.

Every chart carries a <title> per mark (the browser's tooltip) and text labels, so the numbers stay readable
without colour. Coordinates are rounded to one decimal to keep the markup short.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

# Colour-blind-safe (Okabe-Ito), in stage order: imported, proposals, in review, reviewed, approved.
PALETTE = ("#999999", "#56b4e9", "#e69f00", "#0072b2", "#009e73", "#cc79a7", "#d55e00", "#f0e442")


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str = ""


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _fmt(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def _svg(width: float, height: float, body: list[str], label: str) -> str:
    return (
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="{_n(width)}" height="{_n(height)}" role="img" aria-label="{escape(label)}">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _colour(series: Sequence[Series], index: int) -> str:
    return series[index].colour or PALETTE[index % len(PALETTE)]


def _legend(series: Sequence[Series], y: float, totals: Sequence[float] | None = None) -> list[str]:
    parts, x = [], 0.0
    for i, s in enumerate(series):
        text = s.label if totals is None else f"{s.label} {_fmt(totals[i])}"
        parts.append(f'<rect x="{_n(x)}" y="{_n(y)}" width="10" height="10" fill="{_colour(series, i)}"/>')
        parts.append(f'<text x="{_n(x + 14)}" y="{_n(y + 9)}" font-size="11">{escape(text)}</text>')
        x += 24 + 6.5 * len(text)
    return parts


def stacked_bar(parts: Sequence[tuple[str, float]], *, width: float = 640, label: str = "") -> str:
    """One horizontal bar split by share (images per stage), with a legend that gives each count."""
    series = [Series(name, [value]) for name, value in parts]
    total = sum(value for _, value in parts)
    body, x = [], 0.0
    for i, (name, value) in enumerate(parts):
        if total and value:
            w = width * value / total
            share = 100 * value / total
            body.append(
                f'<rect x="{_n(x)}" y="0" width="{_n(w)}" height="22" fill="{_colour(series, i)}">'
                f"<title>{escape(name)}: {_fmt(value)} ({share:.0f} %)</title></rect>"
            )
            x += w
    if not total:
        body.append(f'<rect x="0" y="0" width="{_n(width)}" height="22" fill="#eeeeee"/>')
    body += _legend(series, 30, [value for _, value in parts])
    return _svg(width, 44, body, label or f"{_fmt(total)} in all")


def stacked_columns(
    labels: Sequence[str], series: Sequence[Series], *, width: float = 640, height: float = 180, label: str = ""
) -> str:
    """Columns over time (one per label, e.g. per day), each split by series; the y axis shows the largest total."""
    n = max(len(labels), 1)
    top = max((sum(s.values[i] for s in series) for i in range(len(labels))), default=0) or 1
    plot_h, left, bottom = height - 40, 44, 16
    step = (width - left) / n
    col = max(step * 0.8, 1)
    body = [
        f'<text x="{left - 4}" y="10" font-size="10" text-anchor="end">{_fmt(top)}</text>',
        f'<text x="{left - 4}" y="{_n(plot_h)}" font-size="10" text-anchor="end">0</text>',
        f'<line x1="{left}" y1="{_n(plot_h)}" x2="{_n(width)}" y2="{_n(plot_h)}" stroke="#888"/>',
    ]
    for i, name in enumerate(labels):
        x, y = left + i * step + (step - col) / 2, plot_h
        for j, s in enumerate(series):
            value = s.values[i]
            if not value:
                continue
            h = plot_h * value / top
            y -= h
            body.append(
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(col)}" height="{_n(h)}" fill="{_colour(series, j)}">'
                f"<title>{escape(name)} · {escape(s.label)}: {_fmt(value)}</title></rect>"
            )
    if labels:
        body.append(f'<text x="{left}" y="{_n(plot_h + 12)}" font-size="10">{escape(labels[0])}</text>')
        if len(labels) > 1:
            body.append(
                f'<text x="{_n(width)}" y="{_n(plot_h + 12)}" font-size="10" text-anchor="end">'
                f"{escape(labels[-1])}</text>"
            )
    body += _legend(series, plot_h + bottom + 4)
    return _svg(width, height, body, label or "over time")


def bars(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    width: float = 640,
    height: float = 160,
    maximum: float | None = None,
    label: str = "",
    percent: bool = False,
) -> str:
    """Grouped vertical bars: one group per label, one bar per series (recall and precision by face size).

    A value of None is drawn as a gap with "n/a": no data is not the same as zero.
    """
    top = maximum or max((v for s in series for v in s.values if v is not None), default=0) or 1
    plot_h, left = height - 44, 8
    step = (width - left) / max(len(labels), 1)
    bar_w = step * 0.8 / max(len(series), 1)
    body = [f'<line x1="{left}" y1="{_n(plot_h)}" x2="{_n(width)}" y2="{_n(plot_h)}" stroke="#888"/>']
    for i, name in enumerate(labels):
        x0 = left + i * step + step * 0.1
        for j, s in enumerate(series):
            value = s.values[i]
            x = x0 + j * bar_w
            if value is None:
                body.append(
                    f'<text x="{_n(x + bar_w / 2)}" y="{_n(plot_h - 3)}" font-size="9" text-anchor="middle">n/a</text>'
                )
                continue
            h = plot_h * min(value, top) / top
            shown = f"{100 * value:.0f} %" if percent else _fmt(value)
            body.append(
                f'<rect x="{_n(x)}" y="{_n(plot_h - h)}" width="{_n(bar_w - 1)}" height="{_n(h)}" '
                f'fill="{_colour(series, j)}"><title>{escape(name)} · {escape(s.label)}: {shown}</title></rect>'
                f'<text x="{_n(x + bar_w / 2)}" y="{_n(max(plot_h - h - 2, 9))}" font-size="9" '
                f'text-anchor="middle">{shown}</text>'
            )
        body.append(
            f'<text x="{_n(x0 + step * 0.4)}" y="{_n(plot_h + 12)}" font-size="10" text-anchor="middle">'
            f"{escape(name)}</text>"
        )
    body += _legend(series, plot_h + 22)
    return _svg(width, height, body, label or "bars")


def sparkbars(values: Sequence[float], *, width: float = 90, height: float = 18, label: str = "") -> str:
    """A row of tiny bars (one per day), scaled to the largest; zero days show as a baseline tick."""
    n = max(len(values), 1)
    top = max(values, default=0) or 1
    step = width / n
    body = []
    for i, value in enumerate(values):
        h = max(height * value / top, 1 if value else 0.5)
        body.append(
            f'<rect x="{_n(i * step)}" y="{_n(height - h)}" width="{_n(max(step - 1, 0.5))}" height="{_n(h)}" '
            f'fill="{PALETTE[3] if value else "#cccccc"}"><title>{_fmt(value)}</title></rect>'
        )
    return _svg(width, height, body, label or f"{len(values)} values, largest {_fmt(max(values, default=0))}")


def progress(done: float, total: float, *, width: float = 160, label: str = "") -> str:
    """A progress bar with its fraction written beside it."""
    share = done / total if total else 0
    text = f"{_fmt(done)} / {_fmt(total)}"
    body = [
        f'<rect x="0" y="2" width="{_n(width)}" height="12" fill="#e6e6e6"/>',
        f'<rect x="0" y="2" width="{_n(width * min(share, 1))}" height="12" fill="{PALETTE[4]}"/>',
        f'<text x="{_n(width + 6)}" y="12" font-size="11">{escape(text)}</text>',
    ]
    return _svg(width + 8 + 7 * len(text), 16, body, label or f"{text} done")
