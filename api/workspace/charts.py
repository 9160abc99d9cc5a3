"""Bar charts drawn on the server as SVG: no charting library, nothing fetched by the browser.

Each chart is an image with a text alternative (its title and every bar's label and value),
so a screen reader reads the same figures a sighted person sees.
"""

from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

BAR_HEIGHT = 24
GAP = 10
LABEL_WIDTH = 170
BAR_AREA = 260
VALUE_WIDTH = 80


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, float | None]],
    shown: Callable[[float], str],
) -> Markup:
    """Horizontal bars, one per (label, value), scaled to the largest; a None value is drawn
    as "—" with no bar."""
    width = LABEL_WIDTH + BAR_AREA + VALUE_WIDTH
    height = max(len(bars), 1) * (BAR_HEIGHT + GAP) + GAP
    top = max((value or 0.0 for _, value in bars), default=0.0) or 1.0
    alternative = "; ".join(
        f"{label}: {shown(value) if value is not None else 'no data'}" for label, value in bars
    )
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="100%" role="img" '
        f'aria-label="{escape(title)}: {escape(alternative or "no data")}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    if not bars:
        parts.append(f'<text x="0" y="{BAR_HEIGHT}" class="chart-empty">No data yet</text>')
    for index, (label, value) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        middle = y + BAR_HEIGHT / 2 + 5
        length = 0.0 if value is None else max(BAR_AREA * value / top, 1.0)
        text = shown(value) if value is not None else "—"
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" class="chart-label">'
            f"{escape(label)}</text>",
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{BAR_HEIGHT}" '
            'rx="3" class="chart-bar"/>',
            f'<text x="{LABEL_WIDTH + length + 6:.1f}" y="{middle}" class="chart-value">'
            f"{escape(text)}</text>",
        ]
    parts.append("</svg>")
    return Markup("".join(parts))
