"""The process map as a picture: an SVG drawn with a layout of its own (no Graphviz binary).

The design's stages give the rows, top to bottom, so what ran out of order shows as red, dashed
edges going the wrong way; activities the design does not have get a row of their own.
"""

import math
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape

from core.insight.process_map import (
    END_NODES,
    FINAL_STATUSES,
    START,
    MapEdge,
    MapNode,
    ProcessMap,
    end_node,
    human_duration,
    is_activity,
)

# -- sizes and colours ----------------------------------------------------------------------

FONT = "system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif"
FONT_SIZE = 12
SMALL_FONT_SIZE = 10.5
LINE_HEIGHT = 14
MARGIN = 24
HEADER_HEIGHT = 40
LABEL_WIDTH = 150  # the column of the stage labels
NODE_WIDTH = 210
TERMINAL_WIDTH = 120
NODE_HEIGHT = 52
CORNER = 10
COLUMN_GAP = 40
ROW_GAP = 70  # room for the edges between rows and their labels
DIP = 32  # how far an edge within a row bends below (or above) it
LOOP_REACH = 44  # how far a self loop or an edge going up bulges out to the right
RIGHT_ROOM = 3 * LOOP_REACH
LEGEND_HEIGHT = 36
MIN_WIDTH = 640  # the legend's width
WRAP = 30  # characters per line of an activity's name
MIN_STROKE = 1.2
STROKE_PER_LOG = 1.4  # stroke width grows with the log of an edge's count
MAX_STROKE = 9.0
ARROW_SIZE = 9
LOOP_INSET = 22  # where a self loop leaves and enters, from the node's top right corner
LABEL_HALF_WIDTH, LABEL_HALF_HEIGHT = 22, 6  # about an edge label's size, kept off the nodes
LABEL_STEPS = (0.0, 0.08, 0.16, 0.24, 0.32, 0.4)  # along the edge from its middle, both ways

ACTOR_COLOURS: dict[str, tuple[str, str]] = {  # fill, border
    "bot": ("#dce9f5", "#3c6e9f"),
    "ai": ("#ece0f3", "#7b4fa0"),
    "human": ("#fde3c8", "#c46a12"),
    "system": ("#e8e8e8", "#6b6b6b"),
}
UNKNOWN_ACTOR = ("#ffffff", "#6b6b6b")
TERMINAL_FILL = "#3b3b3b"
TERMINAL_TEXT = "#ffffff"
TEXT_COLOUR = "#222222"
MUTED_COLOUR = "#777777"
BAND_COLOUR = "#f5f6f8"
EDGE_COLOUR = "#707070"
UNDESIGNED_COLOUR = "#d62728"
UNDESIGNED_DASH = "6 4"
UNDESIGNED_ROW = "not in the design"

Point = tuple[float, float]
_DIRECTIONS: dict[str, Point] = {"top": (0, -1), "bottom": (0, 1), "right": (1, 0)}


def _escape(text: str) -> str:
    """Safe as element text and as a double-quoted attribute."""
    return escape(text, {'"': "&quot;"})


def _el(tag: str, content: str = "", /, **attrs: str | float) -> str:
    """An element; `content` is markup already. Attribute names take - for _ (stroke_width)."""
    rendered = "".join(
        f' {name.replace("_", "-")}="{_attribute(value)}"' for name, value in attrs.items()
    )
    return f"<{tag}{rendered}>{content}</{tag}>" if content else f"<{tag}{rendered}/>"


def _attribute(value: str | float) -> str:
    return _escape(value) if isinstance(value, str) else _number(value)


def _number(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _text(text: str, **attrs: str | float) -> str:
    return _el("text", _escape(text), **attrs)


@dataclass(frozen=True)
class _Row:
    label: str
    nodes: tuple[str, ...]
    designed: bool = True


@dataclass(frozen=True)
class _Box:
    x: float
    y: float
    width: float
    row: int

    @property
    def centre(self) -> Point:
        return (self.x + self.width / 2, self.y + NODE_HEIGHT / 2)

    @property
    def right(self) -> float:
        return self.x + self.width


def _rows(pmap: ProcessMap) -> list[_Row]:
    """Start, a row per designed stage (empty ones too: the design is the frame), the
    activities the design lacks, the end nodes."""
    rows = [_Row("", (START,))]
    rows += [
        _Row(stage.name, tuple(n.activity for n in pmap.nodes if n.designed_stage == stage.name))
        for stage in pmap.designed_stages
    ]
    undesigned = tuple(n.activity for n in pmap.nodes if n.designed_stage is None)
    if undesigned:
        rows.append(_Row(UNDESIGNED_ROW, undesigned, designed=False))
    reached = {edge.target for edge in pmap.edges}
    ends = tuple(end_node(s) for s in FINAL_STATUSES if end_node(s) in reached)
    if ends:
        rows.append(_Row("end", ends))
    return rows


def _width_of(node: str) -> float:
    return NODE_WIDTH if is_activity(node) else TERMINAL_WIDTH


def _row_width(row: _Row) -> float:
    return sum(_width_of(node) for node in row.nodes) + COLUMN_GAP * max(len(row.nodes) - 1, 0)


def _row_top(index: int) -> float:
    return MARGIN + HEADER_HEIGHT + index * (NODE_HEIGHT + ROW_GAP)


def _layout(rows: list[_Row]) -> tuple[dict[str, _Box], float]:
    """Each node's box, each row centred in the widest's width; and that width."""
    content = max(_row_width(row) for row in rows)
    boxes: dict[str, _Box] = {}
    for index, row in enumerate(rows):
        x = MARGIN + LABEL_WIDTH + (content - _row_width(row)) / 2
        for node in row.nodes:
            boxes[node] = _Box(x, _row_top(index), _width_of(node), index)
            x += _width_of(node) + COLUMN_GAP
    return boxes, content


def _sides(source: _Box, target: _Box) -> tuple[str, str]:
    """Where an edge between two nodes leaves and enters: down from bottom to top; within a
    row below it going right and above it going left; up round the right."""
    if target.row > source.row:
        return "bottom", "top"
    if target.row == source.row:
        return ("bottom", "bottom") if target.x > source.x else ("top", "top")
    return "right", "right"


def _anchors(edges: list[MapEdge], boxes: dict[str, _Box]) -> dict[int, tuple[Point, Point]]:
    """Each edge's two ends (self loops have their own corner), spread along the side of a node
    that several edges share, in the order of the nodes at their other ends, so that arrows
    and curves do not pile up."""
    ends: dict[tuple[str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for index, edge in enumerate(edges):
        if edge.source == edge.target:
            continue
        source, target = boxes[edge.source], boxes[edge.target]
        sides = _sides(source, target)
        ends[edge.source, sides[0]].append((_order_key(target, sides[0]), index, 0))
        ends[edge.target, sides[1]].append((_order_key(source, sides[1]), index, 1))
    points: dict[tuple[int, int], Point] = {}
    for (node, side), attached in ends.items():
        for slot, (_, index, end) in enumerate(sorted(attached)):
            points[index, end] = _slot(boxes[node], side, slot, len(attached))
    return {index: (points[index, 0], points[index, 1]) for index, _ in points}


def _order_key(other: _Box, side: str) -> float:
    return other.centre[1] if side == "right" else other.centre[0]


def _slot(box: _Box, side: str, slot: int, slots: int) -> Point:
    share = (slot + 1) / (slots + 1)
    if side == "right":
        return (box.right, box.y + NODE_HEIGHT * share)
    inner = box.width * 0.6  # the middle of the side: the corners are rounded
    x = box.x + (box.width - inner) / 2 + inner * share
    return (x, box.y + NODE_HEIGHT if side == "bottom" else box.y)


def _reach(source: _Box, target: _Box, start: Point, end: Point) -> float:
    """How far the control points stand off the nodes: half the way down, a dip within a
    row, further out round the right the more rows an edge goes up."""
    sides = _sides(source, target)
    if sides == ("bottom", "top"):
        return (end[1] - start[1]) / 2
    if sides[0] == sides[1] != "right":
        return DIP
    return LOOP_REACH * (1 + 0.5 * min(source.row - target.row, 4))


def _bezier(start: Point, end: Point, sides: tuple[str, str], reach: float) -> list[Point]:
    if sides == ("right", "right"):  # both control points out at the same x: a clean bulge
        out = max(start[0], end[0]) + reach
        return [start, (out, start[1]), (out, end[1]), end]
    (dx0, dy0), (dx1, dy1) = _DIRECTIONS[sides[0]], _DIRECTIONS[sides[1]]
    return [
        start,
        (start[0] + dx0 * reach, start[1] + dy0 * reach),
        (end[0] + dx1 * reach, end[1] + dy1 * reach),
        end,
    ]


def _loop(box: _Box) -> list[Point]:
    """A self loop: out of the top and back into the right side, round the top right corner,
    where it crosses no other edge's ends."""
    top, right = (box.right - LOOP_INSET, box.y), (box.right, box.y + LOOP_INSET)
    return [top, (top[0], top[1] - LOOP_REACH), (right[0] + LOOP_REACH, right[1]), right]


def _point_at(curve: list[Point], t: float) -> Point:
    weights = ((1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3)
    return (
        sum(w * x for w, (x, _) in zip(weights, curve, strict=True)),
        sum(w * y for w, (_, y) in zip(weights, curve, strict=True)),
    )


def _label_point(curve: list[Point], boxes: Iterable[_Box], taken: list[Point]) -> Point:
    """Where an edge's label goes: its middle, or the point nearest to it off every node and
    every label placed before (a label on a node would hide its name)."""
    points = [_point_at(curve, 0.5 + step * sign) for step in LABEL_STEPS for sign in (-1, 1)]
    clear = (
        p
        for p in points
        if not any(_covers(box, p) for box in boxes) and not any(_near(p, t) for t in taken)
    )
    return next(clear, points[0])


def _near(point: Point, other: Point) -> bool:
    return (
        abs(point[0] - other[0]) < 2 * LABEL_HALF_WIDTH
        and abs(point[1] - other[1]) < 2 * LABEL_HALF_HEIGHT
    )


def _covers(box: _Box, point: Point) -> bool:
    x, y = point
    return (
        box.x - LABEL_HALF_WIDTH <= x <= box.right + LABEL_HALF_WIDTH
        and box.y - LABEL_HALF_HEIGHT <= y <= box.y + NODE_HEIGHT + LABEL_HALF_HEIGHT
    )


def _stroke_width(count: int) -> float:
    return min(MIN_STROKE + STROKE_PER_LOG * math.log(max(count, 1)), MAX_STROKE)


def _edge_svg(edge: MapEdge, curve: list[Point], label_at: Point) -> tuple[str, str]:
    """The edge's path and its label (drawn later, above the nodes)."""
    (x0, y0), (x1, y1), (x2, y2), (x3, y3) = (tuple(map(_number, p)) for p in curve)
    style: dict[str, str | float] = {
        "stroke": EDGE_COLOUR,
        "marker_end": "url(#arrow)",
    }
    if not edge.designed:
        style = {
            "stroke": UNDESIGNED_COLOUR,
            "stroke_dasharray": UNDESIGNED_DASH,
            "marker_end": "url(#arrow-undesigned)",
        }
    label = f"{edge.count} · {human_duration(edge.median_seconds)}"
    path = _el(
        "path",
        _el("title", _escape(f"{edge.source} → {edge.target}: {label}")),
        d=f"M{x0},{y0} C{x1},{y1} {x2},{y2} {x3},{y3}",
        fill="none",
        stroke_width=_stroke_width(edge.count),
        **style,
    )
    x, y = label_at
    return path, _text(
        label,
        x=x,
        y=y + 4,
        text_anchor="middle",
        font_size=SMALL_FONT_SIZE,
        fill=UNDESIGNED_COLOUR if not edge.designed else MUTED_COLOUR,
        stroke="#ffffff",
        stroke_width=3,
        paint_order="stroke",
    )


def _edges_svg(pmap: ProcessMap, boxes: dict[str, _Box]) -> tuple[list[str], list[str]]:
    paths: list[str] = []
    labels: list[str] = []
    taken: list[Point] = []
    anchors = _anchors(pmap.edges, boxes)
    for index, edge in enumerate(pmap.edges):
        source, target = boxes[edge.source], boxes[edge.target]
        if index in anchors:
            start, end = anchors[index]
            sides = _sides(source, target)
            curve = _bezier(start, end, sides, _reach(source, target, start, end))
        else:
            curve = _loop(source)
        taken.append(_label_point(curve, boxes.values(), taken))
        path, label = _edge_svg(edge, curve, taken[-1])
        paths.append(path)
        labels.append(label)
    return paths, labels


def _lines(activity: str) -> list[str]:
    """An activity's name in at most two lines; the node's title keeps it whole."""
    lines = textwrap.wrap(activity, WRAP) or [activity]
    if len(lines) > 2:
        lines = [lines[0], textwrap.shorten(" ".join(lines[1:]), WRAP, placeholder=" …")]
    return lines


def _texts(lines: list[str], box: _Box, fills: list[str], sizes: list[float]) -> str:
    """Lines centred in a box, vertically too."""
    cx, cy = box.centre
    top = cy - (len(lines) - 1) * LINE_HEIGHT / 2 + 4
    return "".join(
        _text(line, x=cx, y=top + i * LINE_HEIGHT, text_anchor="middle", fill=fill, font_size=size)
        for i, (line, fill, size) in enumerate(zip(lines, fills, sizes, strict=True))
    )


def _node_svg(node: MapNode, box: _Box) -> str:
    fill, border = ACTOR_COLOURS.get(node.actor_kind, UNKNOWN_ACTOR)
    marked: dict[str, str | float] = {}
    if node.designed_stage is None:
        marked = {"stroke": UNDESIGNED_COLOUR, "stroke_dasharray": UNDESIGNED_DASH}
    stats = f"{node.count} · {human_duration(node.median_seconds)}"
    names = _lines(node.activity)
    title = (
        f"{node.activity}: {node.actor_kind}, {node.department or 'no department'}; "
        f"{node.count} steps, median {human_duration(node.median_seconds)}"
    )
    rect_style: dict[str, str | float] = {"stroke": border, "stroke_width": 1.5, **marked}
    return _el(
        "g",
        _el("title", _escape(title))
        + _el(
            "rect",
            x=box.x,
            y=box.y,
            width=box.width,
            height=NODE_HEIGHT,
            rx=CORNER,
            fill=fill,
            **rect_style,
        )
        + _texts(
            [*names, stats],
            box,
            [TEXT_COLOUR] * len(names) + [MUTED_COLOUR],
            [FONT_SIZE] * len(names) + [SMALL_FONT_SIZE],
        ),
    )


def _cases(count: int) -> str:
    return f"{count} case" if count == 1 else f"{count} cases"


def _terminal_svg(node: str, cases: int, box: _Box) -> str:
    """Start or an end node: a dark pill with the number of cases that passed it."""
    return _el(
        "g",
        _el("title", _escape(f"{node}: {_cases(cases)}"))
        + _el(
            "rect",
            x=box.x,
            y=box.y,
            width=box.width,
            height=NODE_HEIGHT,
            rx=NODE_HEIGHT / 2,
            fill=TERMINAL_FILL,
        )
        + _texts([node, _cases(cases)], box, [TERMINAL_TEXT] * 2, [FONT_SIZE, SMALL_FONT_SIZE]),
    )


def _nodes_svg(pmap: ProcessMap, boxes: dict[str, _Box]) -> list[str]:
    passed: Counter[str] = Counter()
    for edge in pmap.edges:
        passed[edge.target] += edge.count if edge.target in END_NODES else 0
        passed[edge.source] += edge.count if edge.source == START else 0
    drawn = [_node_svg(node, boxes[node.activity]) for node in pmap.nodes]
    drawn += [
        _terminal_svg(node, passed[node], box)
        for node, box in boxes.items()
        if not is_activity(node)
    ]
    return drawn


def _rows_svg(rows: list[_Row], width: float) -> list[str]:
    """A band every other row and a label per row; a designed stage nothing ran in says so."""
    drawn = []
    for index, row in enumerate(rows):
        top = _row_top(index)
        y = top + NODE_HEIGHT / 2 + 4
        if index % 2:
            drawn.append(
                _el(
                    "rect",
                    x=MARGIN / 2,
                    y=top - ROW_GAP / 4,
                    width=width - MARGIN,
                    height=NODE_HEIGHT + ROW_GAP / 2,
                    rx=6,
                    fill=BAND_COLOUR,
                )
            )
        if row.label:
            colour = TEXT_COLOUR if row.designed else UNDESIGNED_COLOUR
            drawn.append(_text(row.label, x=MARGIN, y=y, fill=colour, font_weight="bold"))
        if not row.nodes:
            drawn.append(
                _text(
                    "nothing ran",
                    x=MARGIN + LABEL_WIDTH,
                    y=y,
                    fill=MUTED_COLOUR,
                    font_style="italic",
                    font_size=SMALL_FONT_SIZE,
                )
            )
    return drawn


def _legend_svg(top: float) -> list[str]:
    """What the colours say: who did an activity, and which edges the design lacks."""
    drawn, x, y = [], float(MARGIN), top + LEGEND_HEIGHT / 2
    for kind, (fill, border) in ACTOR_COLOURS.items():
        drawn.append(
            _el(
                "rect",
                x=x,
                y=y - 8,
                width=22,
                height=16,
                rx=4,
                fill=fill,
                stroke=border,
                stroke_width=1.5,
            )
        )
        drawn.append(_text(kind, x=x + 28, y=y + 4, fill=TEXT_COLOUR))
        x += 90
    drawn.append(
        _el(
            "line",
            x1=x,
            y1=y,
            x2=x + 40,
            y2=y,
            stroke=UNDESIGNED_COLOUR,
            stroke_width=2,
            stroke_dasharray=UNDESIGNED_DASH,
        )
    )
    drawn.append(_text("not as designed", x=x + 48, y=y + 4, fill=UNDESIGNED_COLOUR))
    return drawn


def _markers() -> str:
    """Arrowheads in user units (not scaled by stroke width), one per edge colour."""
    return _el(
        "defs",
        "".join(
            _el(
                "marker",
                _el("path", d="M0,0 L10,5 L0,10 z", fill=colour),
                id=name,
                viewBox="0 0 10 10",
                refX=9,
                refY=5,
                markerWidth=ARROW_SIZE,
                markerHeight=ARROW_SIZE,
                markerUnits="userSpaceOnUse",
                orient="auto",
            )
            for name, colour in (("arrow", EDGE_COLOUR), ("arrow-undesigned", UNDESIGNED_COLOUR))
        ),
    )


def render_svg(pmap: ProcessMap) -> str:
    """The map as a standalone SVG document: rows by designed stage, so that what ran out of
    the design's order stands out."""
    rows = _rows(pmap)
    boxes, content = _layout(rows)
    width = max(2 * MARGIN + LABEL_WIDTH + content + RIGHT_ROOM, MIN_WIDTH)
    legend_top = _row_top(len(rows)) - ROW_GAP / 2
    height = legend_top + LEGEND_HEIGHT + MARGIN
    paths, labels = _edges_svg(pmap, boxes)
    header = (
        f"{pmap.process_type}: {_cases(pmap.cases)}, {pmap.conforming_cases} conform to the "
        f"design, {len(pmap.deviations)} deviate"
    )
    body = [
        _markers(),
        _el("rect", width=width, height=height, fill="#ffffff"),
        *_rows_svg(rows, width),
        _text(header, x=MARGIN, y=MARGIN + 8, font_size=15, font_weight="bold", fill=TEXT_COLOUR),
        *paths,
        *_nodes_svg(pmap, boxes),
        *labels,
        *_legend_svg(legend_top),
    ]
    return _el(
        "svg",
        "\n".join(body),
        xmlns="http://www.w3.org/2000/svg",
        width=width,
        height=height,
        viewBox=f"0 0 {_number(width)} {_number(height)}",
        font_family=FONT,
        font_size=FONT_SIZE,
    )
