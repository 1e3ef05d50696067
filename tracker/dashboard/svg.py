"""Server-rendered SVG charts: no JavaScript, no CDN; readable without colour (values are printed).

Every chart has a <title> (its accessible name) and a <desc> (its description); pages keep a table of the
same figures next to it as the text alternative. Fills and strokes are presentation attributes,
never ``style``, so the Content-Security-Policy (no inline styles) leaves them alone.
"""
from __future__ import annotations

import zlib
from typing import Callable, NamedTuple, Sequence

from flask_babel import gettext as _
from markupsafe import Markup, escape

BLUE, RED, GREY, INK = "#0b5cad", "#cf222e", "#9aa4ae", "#24292f"


class LimitBar(NamedTuple):
    """One bar of a value against its own limit (e.g. an indicator's CV and its CV limit)."""

    label: str
    value: float
    limit: float
    over: bool
    hint: str = ""  #: a longer name, shown in the bar's tooltip


class Point(NamedTuple):
    """One point of a small-multiple panel: x label (a year), value, limit, over the limit or not."""

    x: str
    value: float
    limit: float
    over: bool


class Panel(NamedTuple):
    label: str
    points: Sequence[Point]
    hint: str = ""


# ── helpers ──────────────────────────────────────────────────────────────────────────────────
def num(value: float, digits: int = 3) -> str:
    """A figure as printed on charts: `digits` decimals, no trailing zeros (0.50 → 0.5)."""
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _open(uid: str, width: int, height: int, title: str, desc: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-labelledby="{uid}-title" aria-describedby="{uid}-desc" class="chart" id="{uid}">'
            f'<title id="{uid}-title">{escape(title)}</title><desc id="{uid}-desc">{escape(desc)}</desc>')


def _text(x: float, y: float, content: str, size: int = 12, anchor: str = "start", fill: str = INK,
          bold: bool = False, cls: str = "") -> str:
    weight = ' font-weight="bold"' if bold else ""
    klass = f' class="{cls}"' if cls else ""
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" fill="{fill}"{weight}{klass}>'
            f'{escape(content)}</text>')


def _hatch(uid: str) -> str:
    """A diagonal hatch drawn over anything that is over its limit, so the difference is not colour alone."""
    return (f'<defs><pattern id="{uid}-hatch" width="6" height="6" patternUnits="userSpaceOnUse" '
            f'patternTransform="rotate(45)"><rect width="6" height="6" fill="{RED}"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2"/></pattern></defs>')


def _limit_text(limit: float) -> str:
    return _("限值 %(limit)s", limit=num(limit, 2))


def _legend(uid: str, y: float, x: float = 4, dots: bool = False) -> str:
    """Key: the dashed limit mark, a value within the limit (a bar, or a dot), a value over it (hatched, ✗)."""
    within, over, limit = _("未超过限值"), _("✗ 超过限值"), _("限值")
    mark = (f'<circle cx="76" cy="-4" r="4.5" fill="{BLUE}"/>' if dots
            else f'<rect x="70" y="-10" width="12" height="12" fill="{BLUE}"/>')
    parts = [f'<g class="legend" transform="translate({x:.1f},{y:.1f})">',
             f'<line x1="0" y1="-4" x2="18" y2="-4" stroke="{INK}" stroke-width="2" stroke-dasharray="4 3"/>',
             _text(22, 0, limit, 11), mark, _text(86, 0, within, 11),
             f'<rect x="200" y="-10" width="12" height="12" fill="url(#{uid}-hatch)" stroke="{RED}"/>',
             _text(216, 0, over, 11), "</g>"]
    return "".join(parts)


# ── dashboard charts ─────────────────────────────────────────────────────────────────────────
def bar_chart(items: list[tuple[str, float]], *, width: int = 520, bar: int = 22, unit: str = "",
              limit: float | None = None, colours: list[str] | None = None, title: str = "",
              value_text: Callable[[float], str] | None = None, uid: str = "") -> Markup:
    """Horizontal bars with labels and values; an optional dashed limit line (e.g. a CV limit)."""
    label_w, gap = 150, 6
    uid = uid or f"bars-{zlib.crc32(repr((title, items)).encode()):08x}"
    show = value_text or (lambda v: f"{v:g}{unit}")
    top = max([v for _l, v in items] + ([limit] if limit else []) + [1e-9])
    plot_w = width - label_w - 60
    height = len(items) * (bar + gap) + 10
    desc = "; ".join(f"{label} {show(value)}" for label, value in items)
    parts = [_open(uid, width, height, title, desc)]
    for i, (label, value) in enumerate(items):
        y = 5 + i * (bar + gap)
        w = max(0.0, plot_w * value / top)
        colour = (colours[i] if colours else BLUE)
        parts.append(_text(label_w - 6, y + bar * 0.7, label, 13, "end")
                     + f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>'
                     + _text(label_w + w + 4, y + bar * 0.7, show(value)))
    if limit:
        x = label_w + plot_w * limit / top
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="{RED}" stroke-dasharray="4 3"/>'
                     + _text(x + 3, height - 2, _limit_text(limit), 11, fill=RED))
    parts.append("</svg>")
    return Markup("".join(parts))


def progress_chart(points: list[tuple[str, float, float | None]], *, width: int = 520, title: str = "") -> Markup:
    """Milestone targets vs the achieved share: pairs of bars per milestone (target, actual) in percent."""
    items: list[tuple[str, float]] = []
    colours: list[str] = []
    for label, target, actual in points:
        items.append((_("%(label)s 目标", label=label), round(target * 100)))
        colours.append(GREY)
        items.append((_("%(label)s 实际", label=label), round((actual or 0) * 100)))
        colours.append("#1a7f37" if actual is not None and actual >= target else RED)
    return bar_chart(items, width=width, unit="%", colours=colours, title=title)


# ── a value against its limit, one bar per item ──────────────────────────────────────────────
def _verdict(label: str, value: float, limit: float, over: bool) -> str:
    """One sentence: '<label>: <value>, over / within the limit <limit>.'"""
    if over:
        return _("%(label)s：%(value)s，超过限值 %(limit)s。", label=label, value=num(value), limit=num(limit, 2))
    return _("%(label)s：%(value)s，未超过限值 %(limit)s。", label=label, value=num(value), limit=num(limit, 2))


def _limit_bar(b: LimitBar, y: float, x0: float, scale: float, uid: str, bar: int) -> str:
    w, lx = max(0.0, b.value * scale), b.limit * scale
    fill = f"url(#{uid}-hatch)" if b.over else BLUE
    label = (_("✗ %(value)s 超过限值 %(limit)s", value=num(b.value), limit=num(b.limit, 2)) if b.over
             else _("%(value)s（限值 %(limit)s）", value=num(b.value), limit=num(b.limit, 2)))
    tip = _verdict(f"{b.label} {b.hint}".strip(), b.value, b.limit, b.over)
    return (f'<g class="bar {"over" if b.over else "within"}" data-code="{escape(b.label)}"><title>{escape(tip)}</title>'
            + _text(x0 - 6, y + bar * 0.72, b.label, 13, "end", bold=b.over)
            + f'<rect x="{x0}" y="{y:.1f}" width="{w:.1f}" height="{bar}" fill="{fill}"'
            + (f' stroke="{RED}"' if b.over else "") + "/>"
            + f'<line class="limit" x1="{x0 + lx:.1f}" y1="{y - 3:.1f}" x2="{x0 + lx:.1f}" y2="{y + bar + 3:.1f}" '
              f'stroke="{INK}" stroke-width="2" stroke-dasharray="4 3"/>'
            + _text(x0 + max(w, lx) + 6, y + bar * 0.72, label, 12, fill=RED if b.over else INK, bold=b.over,
                    cls="value") + "</g>")


def limit_bars(bars: Sequence[LimitBar], *, uid: str, title: str, width: int = 600, bar: int = 20) -> Markup:
    """Each item's value as a bar with its limit marked; items over the limit are hatched and labelled ✗."""
    x0, gap, value_w = 60, 8, 230
    top = max([b.value for b in bars] + [b.limit for b in bars] + [1e-9])
    scale = (width - x0 - value_w) / top
    height = len(bars) * (bar + gap) + 34
    over = [b.label for b in bars if b.over]
    desc = " ".join(_verdict(b.label, b.value, b.limit, b.over) for b in bars) + " " + (
        _("超过限值的指标：%(codes)s。", codes=", ".join(over)) if over else _("全部指标均未超过限值。"))
    parts = [_open(uid, width, height, title, desc), _hatch(uid)]
    parts += [_limit_bar(b, 6 + i * (bar + gap), x0, scale, uid, bar) for i, b in enumerate(bars)]
    parts += [_legend(uid, height - 8), "</svg>"]
    return Markup("".join(parts))


# ── the same items across years: small multiples ─────────────────────────────────────────────
def _point(p: Point, cx: float, cy: float, code: str, uid: str) -> str:
    tip = _verdict(f"{code} {p.x}", p.value, p.limit, p.over)
    mark = (f'<rect x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10" fill="url(#{uid}-hatch)" stroke="{RED}"/>'
            if p.over else f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4.5" fill="{BLUE}"/>')
    text = ("✗ " if p.over else "") + num(p.value)
    return (f'<g class="point {"over" if p.over else "within"}" data-x="{escape(p.x)}"><title>{escape(tip)}</title>'
            + mark + _text(cx, cy - 8, text, 10, "middle", fill=RED if p.over else INK, bold=p.over) + "</g>")


def _limit_line(x1: float, x2: float, y: float, limit: float) -> str:
    """A panel's limit: a dashed line across it, labelled at its right end."""
    return (f'<line class="limit" x1="{x1:.1f}" y1="{y:.1f}" x2="{x2:.1f}" y2="{y:.1f}" stroke="{INK}" '
            f'stroke-width="1.5" stroke-dasharray="4 3"/>' + _text(x2, y - 3, _limit_text(limit), 10, "end"))


def _panel(panel: Panel, x: float, y: float, w: float, h: float, uid: str) -> str:
    """One small multiple: the item's value in each year (a dot, or a hatched square when over), its limit dashed."""
    left, right, top_pad, bottom = 8, 8, 26, 20
    pw, ph = w - left - right, h - top_pad - bottom
    top = max([p.value for p in panel.points] + [p.limit for p in panel.points] + [1e-9]) * 1.15
    n = len(panel.points)
    xs = [left + (pw * (i + 0.5) / n) for i in range(n)]
    ys = [top_pad + ph * (1 - p.value / top) for p in panel.points]
    limits = {p.limit for p in panel.points}
    parts = [f'<g class="panel" data-code="{escape(panel.label)}" transform="translate({x:.1f},{y:.1f})">',
             f'<rect x="0" y="0" width="{w:.1f}" height="{h:.1f}" fill="#fff" stroke="#d0d7de"/>',
             f'<title>{escape(f"{panel.label} {panel.hint}".strip())}</title>', _text(left, 16, panel.label, 12, bold=True),
             f'<line x1="{left}" y1="{top_pad + ph:.1f}" x2="{left + pw:.1f}" y2="{top_pad + ph:.1f}" stroke="#8c959f"/>']
    parts += [_limit_line(left, left + pw, top_pad + ph * (1 - limit / top), limit) for limit in sorted(limits)]
    if n > 1:
        path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in zip(xs, ys))
        parts.append(f'<polyline points="{path}" fill="none" stroke="{BLUE}" stroke-width="1.5"/>')
    parts += [_point(p, cx, cy, panel.label, uid) for p, cx, cy in zip(panel.points, xs, ys)]
    parts += [_text(cx, h - 6, p.x, 10, "middle") for p, cx in zip(panel.points, xs)]
    parts.append("</g>")
    return "".join(parts)


def small_multiples(panels: Sequence[Panel], *, uid: str, title: str, width: int = 640, columns: int = 4,
                    panel_h: int = 140) -> Markup:
    """One small line chart per item (R1, R2 …) over the same x labels (years), each with its limit dashed."""
    gap = 8
    pw = (width - gap * (columns - 1)) / columns
    rows = -(-len(panels) // columns)
    height = rows * (panel_h + gap) + 24
    over = [f"{pa.label} {p.x}" for pa in panels for p in pa.points if p.over]
    years = [p.x for p in panels[0].points] if panels else []
    desc = (_("年度：%(years)s。", years=", ".join(years)) + " "
            + (_("超过限值：%(items)s。", items=", ".join(over)) if over else _("各年度全部指标均未超过限值。")))
    parts = [_open(uid, width, height, title, desc), _hatch(uid)]
    parts += [_panel(pa, (i % columns) * (pw + gap), (i // columns) * (panel_h + gap), pw, panel_h, uid)
              for i, pa in enumerate(panels)]
    parts += [_legend(uid, height - 6, dots=True), "</svg>"]
    return Markup("".join(parts))
