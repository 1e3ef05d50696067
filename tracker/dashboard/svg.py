"""Server-rendered SVG charts: no JavaScript, no CDN; readable without colour (values are printed)."""
from __future__ import annotations

from markupsafe import Markup, escape


def bar_chart(items: list[tuple[str, float]], *, width: int = 520, bar: int = 22, unit: str = "",
              limit: float | None = None, colours: list[str] | None = None, title: str = "") -> Markup:
    """Horizontal bars with labels and values; an optional dashed limit line (e.g. a CV limit)."""
    label_w, gap = 150, 6
    top = max([v for _, v in items] + ([limit] if limit else []) + [1e-9])
    plot_w = width - label_w - 60
    height = len(items) * (bar + gap) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" class="chart"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = 5 + i * (bar + gap)
        w = max(0.0, plot_w * value / top)
        colour = (colours[i] if colours else "#0b5cad")
        parts.append(f'<text x="{label_w - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" font-size="13">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + bar * 0.7:.1f}" font-size="12">{value:g}{escape(unit)}</text>')
    if limit:
        x = label_w + plot_w * limit / top
        parts.append(f'<line x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{height}" stroke="#cf222e" stroke-dasharray="4 3"/>'
                     f'<text x="{x + 3:.1f}" y="{height - 2}" font-size="11" fill="#cf222e">限值 {limit:g}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def progress_chart(points: list[tuple[str, float, float | None]], *, width: int = 520, title: str = "") -> Markup:
    """Milestone targets vs the achieved share: pairs of bars per milestone (target, actual) in percent."""
    items: list[tuple[str, float]] = []
    colours: list[str] = []
    for label, target, actual in points:
        items.append((f"{label} 目标", round(target * 100)))
        colours.append("#9aa4ae")
        items.append((f"{label} 实际", round((actual or 0) * 100)))
        colours.append("#1a7f37" if actual is not None and actual >= target else "#cf222e")
    return bar_chart(items, width=width, unit="%", colours=colours, title=title)
