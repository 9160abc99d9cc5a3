"""Forms generated from what the API already describes: a process type's input (its JSON
schema) and a task's form (`TaskForm`). One description (`Input`) renders every form, and one
parser turns what a browser posts back into the JSON the API checks.

Parsing keeps what the person typed: a value that is not a number stays a problem next to its
field, and the page is shown again with everything as it was sent.
"""

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from workflows.contracts.tasks import FieldType, TaskForm


class Kind(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    NUMBER = "number"
    INTEGER = "integer"
    CHECKBOX = "checkbox"
    DATE = "date"
    SELECT = "select"
    TABLE = "table"  # a list of objects: a row of inputs per item
    JSON = "json"  # anything else, as JSON text


@dataclass(frozen=True)
class Input:
    name: str  # the posted name; a table cell's is "<table>.<row>.<column>"
    label: str
    kind: Kind = Kind.TEXT
    required: bool = False
    value: Any = None  # pre-filled: a default, what AI extracted, or what was sent
    help: str = ""
    placeholder: str = ""
    options: tuple[str, ...] = ()
    columns: tuple["Input", ...] = ()  # a table's cells, named by column
    spare_rows: int = 2  # empty rows a table offers beyond its values


def humanize(name: str) -> str:
    """`customer_id` -> "Customer id"."""
    words = re.sub(r"[_\-]+", " ", name).strip()
    return words[:1].upper() + words[1:]


# -- from a JSON schema (a process type's input) -----------------------------------------------


def _resolved(prop: Mapping[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    """The property with its $ref followed and an optional (anyOf X | null) taken as X."""
    own = {k: v for k, v in prop.items() if k not in ("$ref", "anyOf", "allOf")}
    if "$ref" in prop:
        return {**_resolved(defs[prop["$ref"].rsplit("/", 1)[-1]], defs), **own}
    for combined in ("anyOf", "allOf"):
        options = [p for p in prop.get(combined, []) if p.get("type") != "null"]
        if len(options) == 1:
            return {**_resolved(options[0], defs), **own}
    return dict(prop)


def _from_property(
    name: str, prop: Mapping[str, Any], required: bool, defs: Mapping[str, Any]
) -> Input:
    prop = _resolved(prop, defs)
    examples = prop.get("examples") or []
    base = Input(
        name=name,
        label=humanize(name),
        required=required,
        value=prop.get("default"),
        help=prop.get("description", ""),
        placeholder=str(examples[0]) if examples else "",
    )
    kind = prop.get("type")
    if "enum" in prop:
        return replace(base, kind=Kind.SELECT, options=tuple(map(str, prop["enum"])))
    if kind == "string":
        if prop.get("format") == "date":
            return replace(base, kind=Kind.DATE)
        long = prop.get("maxLength", 0) > 200
        return replace(base, kind=Kind.TEXTAREA if long else Kind.TEXT)
    simple = {"integer": Kind.INTEGER, "number": Kind.NUMBER, "boolean": Kind.CHECKBOX}
    if kind in simple:
        return replace(base, kind=simple[kind])
    items = _resolved(prop.get("items", {}), defs)
    if kind == "array" and items.get("type") == "object":
        cells = schema_inputs(items, defs)
        if all(cell.kind not in (Kind.TABLE, Kind.JSON) for cell in cells):
            return replace(base, kind=Kind.TABLE, columns=tuple(cells), spare_rows=5)
    return replace(base, kind=Kind.JSON)


def schema_inputs(schema: Mapping[str, Any], defs: Mapping[str, Any] | None = None) -> list[Input]:
    """The inputs of an object's JSON schema (pydantic's `model_json_schema()`)."""
    defs = schema.get("$defs", {}) if defs is None else defs
    required = set(schema.get("required", []))
    return [
        _from_property(name, prop, name in required, defs)
        for name, prop in schema.get("properties", {}).items()
    ]


# -- from a task's form -----------------------------------------------------------------------

_TASK_KINDS = {
    FieldType.STRING: Kind.TEXT,
    FieldType.NUMBER: Kind.NUMBER,
    FieldType.INTEGER: Kind.INTEGER,
    FieldType.BOOLEAN: Kind.CHECKBOX,
    FieldType.DATE: Kind.DATE,
    FieldType.OBJECT: Kind.JSON,
    FieldType.ARRAY: Kind.JSON,
}


def _cell_kind(example: Any) -> Kind:
    if isinstance(example, bool):
        return Kind.CHECKBOX
    if isinstance(example, int):
        return Kind.INTEGER
    if isinstance(example, float):
        return Kind.NUMBER
    return Kind.TEXT


def task_inputs(form: TaskForm) -> list[Input]:
    """The data inputs of a task's form; a list of objects pre-filled (say, the order lines AI
    read) becomes a table whose columns are the objects' keys, typed by their values."""
    found = []
    for spec in form.fields:
        base = Input(
            name=spec.name,
            label=spec.label or humanize(spec.name),
            kind=_TASK_KINDS[spec.type],
            required=spec.required,
            value=spec.default,
        )
        rows = spec.default if isinstance(spec.default, list) else []
        if spec.type is FieldType.ARRAY and rows and all(isinstance(r, dict) for r in rows):
            keys = list(dict.fromkeys(key for row in rows for key in row))
            columns = tuple(
                Input(name=key, label=humanize(key), kind=_cell_kind(rows[0].get(key)))
                for key in keys
            )
            base = replace(base, kind=Kind.TABLE, columns=columns)
        found.append(base)
    return found


# -- parsing what a browser posts ------------------------------------------------------------


@dataclass
class Parsed:
    values: dict[str, Any] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)  # by input name
    sent: dict[str, Any] = field(default_factory=dict)  # what was typed, to show it again


_NOT_A = {Kind.INTEGER: "must be a whole number", Kind.NUMBER: "must be a number"}


def _scalar(kind: Kind, raw: str) -> Any:
    """The typed value of one input's text; raises ValueError with the reason."""
    if kind is Kind.INTEGER:
        if not re.fullmatch(r"[+-]?\d+", raw):
            raise ValueError(_NOT_A[kind])
        return int(raw)
    if kind is Kind.NUMBER:
        try:
            number = float(raw)
        except ValueError:
            raise ValueError(_NOT_A[kind]) from None
        return int(number) if number.is_integer() and "." not in raw else number
    if kind is Kind.JSON:
        try:
            return json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg})") from None
    return raw


def _rows(name: str, form: Mapping[str, Any]) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}\.(\d+)\.")
    return sorted({int(m.group(1)) for key in form if (m := pattern.match(key))})


def parse(inputs: Iterable[Input], form: Mapping[str, Any]) -> Parsed:
    """The JSON value of each input that was filled in; empty ones are left out (the API
    says when one is required), and empty table rows are dropped."""
    parsed = Parsed()
    for spec in inputs:
        if spec.kind is Kind.CHECKBOX:
            parsed.values[spec.name] = parsed.sent[spec.name] = spec.name in form
            continue
        if spec.kind is Kind.TABLE:
            _parse_table(spec, form, parsed)
            continue
        raw = str(form.get(spec.name, "")).strip()
        parsed.sent[spec.name] = raw
        if not raw:
            if spec.required:
                parsed.problems[spec.name] = "is required"
            continue
        try:
            parsed.values[spec.name] = _scalar(spec.kind, raw)
        except ValueError as exc:
            parsed.problems[spec.name] = str(exc)
    return parsed


def _parse_table(spec: Input, form: Mapping[str, Any], parsed: Parsed) -> None:
    sent_rows: list[dict[str, str]] = []
    values: list[dict[str, Any]] = []
    for row in _rows(spec.name, form):
        prefix = f"{spec.name}.{row}."
        cells = {cell.name: str(form.get(prefix + cell.name, "")).strip() for cell in spec.columns}
        if not any(cells.values()):
            continue  # an empty row: not sent
        index = len(sent_rows)
        sent_rows.append(cells)
        item: dict[str, Any] = {}
        for cell in spec.columns:
            raw = cells[cell.name]
            if not raw:
                continue  # the API says if it is required
            try:
                item[cell.name] = _scalar(cell.kind, raw)
            except ValueError as exc:
                parsed.problems[f"{spec.name}.{index}.{cell.name}"] = str(exc)
        values.append(item)
    parsed.sent[spec.name] = sent_rows
    if values:
        parsed.values[spec.name] = values
    elif spec.required:
        parsed.problems[spec.name] = "is required: fill in at least one row"


def refilled(inputs: Iterable[Input], sent: Mapping[str, Any]) -> list[Input]:
    """The inputs pre-filled with what was sent, to show a refused form again as it was."""
    return [replace(spec, value=sent[spec.name]) if spec.name in sent else spec for spec in inputs]


def problems_by_input(details: Any, prefix: str) -> dict[str, str]:
    """The API's field errors ([{field, message}]) keyed by input name, without `prefix`
    (e.g. "body."); an error about the whole input is keyed "" ."""
    found: dict[str, str] = {}
    for item in details if isinstance(details, list) else []:
        name = str(item.get("field", ""))
        if name == prefix.rstrip("."):  # the whole input (e.g. "either message or lines")
            found.setdefault("", str(item.get("message", "")))
        elif name.startswith(prefix):
            found.setdefault(name.removeprefix(prefix), str(item.get("message", "")))
    return found
