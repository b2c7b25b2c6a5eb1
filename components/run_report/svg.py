"""Charts as inline SVG, so the run report is one file that opens offline.

The pinned stack has no plotting library (matplotlib is not in the lock, and
adding one to a TFX 1.16 environment is a resolver fight), and a report meant to
be archived next to a run must not load scripts or fonts from anywhere. Plain
SVG covers what the report needs: line charts (training curves, recall at
(N, K)), a calibration scatter and a left-to-right layout of the lineage DAG.
"""

from __future__ import annotations

import dataclasses
import html
import math
from collections.abc import Sequence

#: Colours that stay distinguishable for the common forms of colour blindness (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
_FONT = 'font-family="sans-serif" font-size="12"'
#: Room right of a line chart's plotting area for its legend.
_LEGEND_WIDTH = 175


@dataclasses.dataclass(frozen=True)
class Series:
    """One line of a chart: a name for the legend and its (x, y) points."""

    name: str
    points: tuple[tuple[float, float], ...]
    dashed: bool = False


def _finite(value: float) -> bool:
    return value is not None and math.isfinite(value)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2 or 5 times a power of ten apart)."""
    if not (_finite(low) and _finite(high)):
        return []
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    last = math.ceil(high / step) * step
    return [round(first + index * step, 10) for index in range(round((last - first) / step) + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) < 1e5 else f"{value:.2e}"


class _Frame:
    """Maps data coordinates to pixels inside a chart's plotting area."""

    def __init__(
        self, x_ticks: list[float], y_ticks: list[float], width: int, height: int, legend_width: int = 0
    ) -> None:
        self.left, self.right, self.top, self.bottom = 64, width - 16 - legend_width, 28, height - 44
        self.x0, self.x1 = x_ticks[0], x_ticks[-1]
        self.y0, self.y1 = y_ticks[0], y_ticks[-1]

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (value - self.x0) / span * (self.right - self.left)

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (value - self.y0) / span * (self.bottom - self.top)


def _axes(frame: _Frame, x_ticks: list[float], y_ticks: list[float], x_label: str, y_label: str) -> list[str]:
    parts = [
        f'<rect x="{frame.left}" y="{frame.top}" width="{frame.right - frame.left}" '
        f'height="{frame.bottom - frame.top}" fill="#fafafa" stroke="#999"/>'
    ]
    for tick in x_ticks:
        x = frame.x(tick)
        parts.append(
            f'<line x1="{x:.1f}" y1="{frame.top}" x2="{x:.1f}" y2="{frame.bottom}" stroke="#e3e3e3"/>'
        )
        parts.append(
            f'<text x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="middle" {_FONT}>{_label(tick)}</text>'
        )
    for tick in y_ticks:
        y = frame.y(tick)
        parts.append(
            f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" stroke="#e3e3e3"/>'
        )
        parts.append(
            f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" {_FONT}>{_label(tick)}</text>'
        )
    middle_x = (frame.left + frame.right) / 2
    parts.append(
        f'<text x="{middle_x:.1f}" y="{frame.bottom + 34}" text-anchor="middle" {_FONT}>'
        f"{html.escape(x_label)}</text>"
    )
    middle_y = (frame.top + frame.bottom) / 2
    parts.append(
        f'<text x="14" y="{middle_y:.1f}" text-anchor="middle" transform="rotate(-90 14 {middle_y:.1f})" '
        f"{_FONT}>{html.escape(y_label)}</text>"
    )
    return parts


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
        f'<text x="{width / 2:.1f}" y="17" text-anchor="middle" font-family="sans-serif" '
        f'font-size="14" font-weight="bold">{html.escape(title)}</text>' + "".join(body) + "</svg>"
    )


def _no_data(title: str, width: int, height: int, why: str) -> str:
    return _svg(
        width,
        height,
        title,
        [f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" {_FONT} fill="#777">{why}</text>'],
    )


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 570,
    height: int = 320,
    y_floor: float | None = None,
    y_ceiling: float | None = None,
) -> str:
    """A line chart with markers and a legend; non-finite points are left out (gaps, not zeros).

    Each marker carries its exact point (`data-series`, `data-x`, `data-value`),
    so a test or script reads the plotted numbers back without inverting pixels.

    Args:
        series: The lines, drawn in palette order.
        title: The chart's title.
        x_label: The x axis' label.
        y_label: The y axis' label.
        width: Width in pixels.
        height: Height in pixels.
        y_floor: A value the y axis always includes (e.g. 0 for a recall).
        y_ceiling: Another (e.g. 1 for a recall).
    """
    points = [(x, y) for s in series for x, y in s.points if _finite(x) and _finite(y)]
    if not points:
        return _no_data(title, width, height, "no finite values to plot")
    ys = [y for _, y in points] + [v for v in (y_floor, y_ceiling) if v is not None]
    x_ticks = nice_ticks(min(x for x, _ in points), max(x for x, _ in points))
    y_ticks = nice_ticks(min(ys), max(ys))
    frame = _Frame(x_ticks, y_ticks, width, height, legend_width=_LEGEND_WIDTH)
    body = _axes(frame, x_ticks, y_ticks, x_label, y_label)
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        finite = [(x, y) for x, y in line.points if _finite(x) and _finite(y)]
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in finite)
        dash = ' stroke-dasharray="6 4"' if line.dashed else ""
        if len(finite) > 1:
            body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        body.extend(
            f'<circle cx="{frame.x(x):.1f}" cy="{frame.y(y):.1f}" r="3" fill="{colour}" '
            f'data-series="{html.escape(line.name)}" data-x="{float(x)!r}" data-value="{float(y)!r}">'
            f"<title>{html.escape(line.name)}: ({_label(x)}, {y:.4g})</title></circle>"
            for x, y in finite
        )
        legend_y = frame.top + 14 + 16 * index
        legend_x = frame.right + 12
        body.append(
            f'<line x1="{legend_x}" y1="{legend_y - 4}" x2="{legend_x + 20}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{legend_x + 25}" y="{legend_y}" {_FONT}>{html.escape(line.name)}</text>'
        )
    return _svg(width, height, title, body)


def calibration_chart(
    bins: Sequence[tuple[float, float, float]], *, title: str, width: int = 420, height: int = 380
) -> str:
    """A reliability diagram: mean prediction against observed rate per bin, with the diagonal.

    Each dot carries its exact bin: `data-x` (mean prediction), `data-value`
    (observed rate) and `data-weight`.

    Args:
        bins: (mean prediction, observed label rate, weight) per bin; the dot's
            area follows the weight, so a noisy bin of few examples looks small.
        title: The chart's title.
        width: Width in pixels.
        height: Height in pixels.
    """
    usable = [(p, y, w) for p, y, w in bins if _finite(p) and _finite(y) and w > 0]
    if not usable:
        return _no_data(title, width, height, "no calibration buckets with examples")
    top = max(1e-6, max(max(p, y) for p, y, _ in usable))
    ticks = nice_ticks(0.0, top)
    frame = _Frame(ticks, ticks, width, height)
    body = _axes(frame, ticks, ticks, "mean prediction", "observed label rate")
    body.append(
        f'<line x1="{frame.x(0):.1f}" y1="{frame.y(0):.1f}" x2="{frame.x(ticks[-1]):.1f}" '
        f'y2="{frame.y(ticks[-1]):.1f}" stroke="#888" stroke-dasharray="4 4"/>'
    )
    heaviest = max(w for _, _, w in usable)
    for prediction, rate, weight in usable:
        radius = 3 + 9 * math.sqrt(weight / heaviest)
        body.append(
            f'<circle cx="{frame.x(prediction):.1f}" cy="{frame.y(rate):.1f}" r="{radius:.1f}" '
            f'fill="{PALETTE[0]}" fill-opacity="0.6" stroke="{PALETTE[0]}" '
            f'data-x="{float(prediction)!r}" data-value="{float(rate)!r}" data-weight="{float(weight)!r}">'
            f"<title>prediction {prediction:.4f}, observed {rate:.4f}, weight {weight:g}</title></circle>"
        )
    return _svg(width, height, title, body)


@dataclasses.dataclass(frozen=True)
class GraphNode:
    """A box of the DAG: an artifact (rounded) or an execution (square)."""

    key: str
    label: str
    detail: str
    is_execution: bool


def _layers(nodes: Sequence[GraphNode], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest-path layering: each node sits one column right of its furthest parent."""
    parents: dict[str, list[str]] = {node.key: [] for node in nodes}
    for source, target in edges:
        if source in parents and target in parents:
            parents[target].append(source)
    layer: dict[str, int] = {}

    def depth(key: str, seen: frozenset[str]) -> int:
        if key not in layer:
            layer[key] = 1 + max(
                (depth(parent, seen | {key}) for parent in parents[key] if parent not in seen), default=-1
            )
        return layer[key]

    for node in nodes:
        depth(node.key, frozenset())
    return layer


def _order_by_parents(columns: dict[int, list[GraphNode]], edges: Sequence[tuple[str, str]]) -> None:
    """Sorts each column by the mean row of its nodes' parents, so that edges cross less."""
    row: dict[str, float] = {}
    for index in sorted(columns):
        column = columns[index]
        if index > 0:

            def parent_rows(node: GraphNode) -> float:
                rows = [row[source] for source, target in edges if target == node.key and source in row]
                return sum(rows) / len(rows) if rows else math.inf

            column.sort(key=parent_rows)
        row.update({node.key: position for position, node in enumerate(column)})


def dag_chart(nodes: Sequence[GraphNode], edges: Sequence[tuple[str, str]], *, title: str) -> str:
    """The lineage graph laid out left to right in columns of dependency depth."""
    if not nodes:
        return _no_data(title, 480, 120, "no lineage recorded")
    layer = _layers(nodes, edges)
    columns: dict[int, list[GraphNode]] = {}
    for node in nodes:
        columns.setdefault(layer[node.key], []).append(node)
    _order_by_parents(columns, edges)
    box_w, box_h, gap_x, gap_y = 136, 44, 30, 16
    rows = max(len(column) for column in columns.values())
    width = 20 + len(columns) * (box_w + gap_x)
    height = 40 + rows * (box_h + gap_y)
    where: dict[str, tuple[float, float]] = {}
    for index, column in sorted(columns.items()):
        offset = (rows - len(column)) * (box_h + gap_y) / 2
        for row, node in enumerate(column):
            where[node.key] = (20 + index * (box_w + gap_x), 34 + offset + row * (box_h + gap_y))
    body = [
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#666"/></marker></defs>'
    ]
    for source, target in edges:
        if source in where and target in where:
            (x0, y0), (x1, y1) = where[source], where[target]
            start_x, start_y, end_y = x0 + box_w, y0 + box_h / 2, y1 + box_h / 2
            body.append(
                f'<path d="M {start_x:.1f} {start_y:.1f} C {start_x + gap_x / 2:.1f} {start_y:.1f}, '
                f'{x1 - gap_x / 2:.1f} {end_y:.1f}, {x1:.1f} {end_y:.1f}" fill="none" stroke="#666" '
                'marker-end="url(#arrow)"/>'
            )
    for node in nodes:
        x, y = where[node.key]
        fill, radius = ("#fde9d9", 2) if node.is_execution else ("#dbe9f6", 12)
        body.append(
            f'<g><title>{html.escape(node.detail)}</title><rect x="{x:.1f}" y="{y:.1f}" width="{box_w}" '
            f'height="{box_h}" rx="{radius}" fill="{fill}" stroke="#555"/>'
            f'<text x="{x + box_w / 2:.1f}" y="{y + 18:.1f}" text-anchor="middle" {_FONT} font-weight="bold">'
            f"{html.escape(node.label[:20])}</text>"
            f'<text x="{x + box_w / 2:.1f}" y="{y + 34:.1f}" text-anchor="middle" font-family="sans-serif" '
            f'font-size="10" fill="#444">{html.escape(node.detail.splitlines()[0][:26])}</text></g>'
        )
    return _svg(width, height, title, body)
