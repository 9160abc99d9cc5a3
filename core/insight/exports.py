"""The event log in the formats process-mining tools read, so analysts can use their own tools.

OCEL 2.0 JSON keeps the log object-centric (an order, an invoice, a task are objects its events
touch; each case is a `process` object too), XES (IEEE 1849) is the case-centric standard and
CSV is for everything else. All three carry the same event attributes under the same names
(`_ATTRIBUTES`); a step still running is placed at its start (its `status` says it runs).
"""

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlmodel import Session

from core.insight.log import InsightCase, InsightEvent, Window, cases_in, events_in


class ExportFormat(StrEnum):
    OCEL = "ocel"
    XES = "xes"
    CSV = "csv"


@dataclass(frozen=True)
class Export:
    media_type: str
    filename: str
    body: str


# An event's attributes in every format, beyond its case, activity, times, actor and role (which
# each format names its own way), with their types.
_ATTRIBUTES: dict[str, type[str] | type[int] | type[float]] = {
    "actor_kind": str,
    "department": str,
    "status": str,
    "outcome": str,
    "step": str,
    "bot_calls": int,
    "ai_calls": int,
    "tokens": int,
    "human_minutes": float,
}
_OCEL_TYPES = {str: "string", int: "integer", float: "float", datetime: "time"}
_XES_TAGS = {str: "string", int: "int", float: "float"}
# OCEL 2.0's time for a value an object has had from the start.
_FROM_THE_START = "1970-01-01T00:00:00Z"
# Characters XML 1.0 cannot carry, even escaped: one in an AI's outcome would spoil the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def export(session: Session, window: Window, fmt: ExportFormat) -> Export:
    """The window's cases and their events, as `fmt`."""
    cases = cases_in(session, window)
    events = events_in(session, window)
    if fmt is ExportFormat.OCEL:
        return Export("application/json", "baton-events.ocel.json", _ocel(cases, events))
    if fmt is ExportFormat.XES:
        return Export("application/xml", "baton-events.xes", _xes(cases, events))
    return Export("text/csv", "baton-events.csv", _csv(events))


def _attributes(event: InsightEvent) -> dict[str, str | int | float]:
    """The attributes all formats share, typed as `_ATTRIBUTES` declares them (SQLite may give a
    float column's whole number back as an int)."""
    return {name: kind(getattr(event, name)) for name, kind in _ATTRIBUTES.items()}


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC, marked Z so no tool reads it as local time. The log's moments are UTC,
    given back naive or aware depending on the database and SQLModel's version."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat() + "Z"


def _when(event: InsightEvent) -> str:
    return _iso(event.ended_at or event.started_at)


def _case_object(process_id: str) -> str:
    return f"process:{process_id}"


def _ocel(cases: list[InsightCase], events: list[InsightEvent]) -> str:
    """OCEL 2.0 JSON. Object ids keep their type ("order:SO-1"), so they are unique across
    types; an event relates to its objects (qualified by their type) and to its case."""
    objects = {oid: oid.split(":", 1)[0] for event in events for oid in event.objects}
    activities = {event.activity: _ocel_attributes(event) for event in events}  # for the types
    case_attributes = ("process_type", "business_key", "status")
    log = {
        "objectTypes": [{"name": kind, "attributes": []} for kind in sorted(set(objects.values()))]
        + [
            {
                "name": "process",
                "attributes": [{"name": name, "type": "string"} for name in case_attributes],
            }
        ],
        "eventTypes": [
            {
                "name": activity,
                "attributes": [
                    {"name": name, "type": _OCEL_TYPES[type(value)]}
                    for name, value in activities[activity].items()
                ],
            }
            for activity in sorted(activities)
        ],
        "objects": [
            {"id": oid, "type": kind, "attributes": []} for oid, kind in sorted(objects.items())
        ]
        + [
            {
                "id": _case_object(case.process_id),
                "type": "process",
                "attributes": [
                    {"name": name, "time": _FROM_THE_START, "value": getattr(case, name)}
                    for name in case_attributes
                ],
            }
            for case in cases
        ],
        "events": [
            {
                "id": f"{event.process_id}#{event.seq}",
                "type": event.activity,
                "time": _when(event),
                "attributes": [
                    {"name": name, "value": _iso(value) if isinstance(value, datetime) else value}
                    for name, value in _ocel_attributes(event).items()
                ],
                "relationships": [
                    {"objectId": oid, "qualifier": objects[oid]} for oid in event.objects
                ]
                + [{"objectId": _case_object(event.process_id), "qualifier": "case"}],
            }
            for event in events
        ],
    }
    return json.dumps(log, ensure_ascii=False)


def _ocel_attributes(event: InsightEvent) -> dict[str, str | int | float | datetime]:
    return {
        "actor": event.actor,
        "role": event.role,
        **_attributes(event),
        "process_type": event.process_type,
        "business_key": event.business_key,
        "started_at": event.started_at,
    }


def _xes(cases: list[InsightCase], events: list[InsightEvent]) -> str:
    """IEEE 1849 XES: a trace per case, its events in the order they ran (`events_in`'s)."""
    log = ET.Element(
        "log",
        {"xes.version": "1849-2016", "xmlns": "http://www.xes-standard.org/"},
    )
    for name, prefix in (
        ("Concept", "concept"),
        ("Time", "time"),
        ("Organizational", "org"),
        ("Lifecycle", "lifecycle"),
    ):
        uri = f"http://www.xes-standard.org/{prefix}.xesext"
        ET.SubElement(log, "extension", {"name": name, "prefix": prefix, "uri": uri})
    ET.SubElement(log, "classifier", {"name": "Activity", "keys": "concept:name"})
    traces: dict[str, ET.Element] = {}
    for case in cases:
        traces[case.process_id] = trace = ET.SubElement(log, "trace")
        _xes_attributes(
            trace,
            {
                "concept:name": case.process_id,
                "process_type": case.process_type,
                "business_key": case.business_key,
                "status": case.status,
            },
        )
    for event in events:
        if event.process_id not in traces:  # its process started after the cases were read
            continue
        element = ET.SubElement(traces[event.process_id], "event")
        _xes_attributes(
            element,
            {
                "concept:name": event.activity,
                "time:timestamp": event.ended_at or event.started_at,
                "org:resource": event.actor,
                "org:role": event.role,
                "lifecycle:transition": "complete",
                **_attributes(event),
            },
        )
    ET.indent(log)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(log, encoding="unicode")


def _xes_attributes(
    parent: ET.Element, attributes: dict[str, str | int | float | datetime]
) -> None:
    """XES attributes are typed elements: <string key=.. value=..>, <date ..>, <int ..>."""
    for key, value in attributes.items():
        if isinstance(value, datetime):
            tag, text = "date", _iso(value)
        else:
            tag, text = _XES_TAGS[type(value)], _NOT_XML.sub("", str(value))
        ET.SubElement(parent, tag, {"key": key, "value": text})


_CSV_COLUMNS = (
    "case_id",
    "activity",
    "timestamp",
    "start_timestamp",
    "resource",
    "role",
    *_ATTRIBUTES,
    "process_type",
    "business_key",
    "objects",
)


def _csv(events: list[InsightEvent]) -> str:
    """A row per event, with the column names pm4py and most tools guess by themselves."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=_CSV_COLUMNS)
    writer.writeheader()
    for event in events:
        writer.writerow(
            {
                "case_id": event.process_id,
                "activity": event.activity,
                "timestamp": _when(event),
                "start_timestamp": _iso(event.started_at),
                "resource": event.actor,
                "role": event.role,
                **_attributes(event),
                "process_type": event.process_type,
                "business_key": event.business_key,
                "objects": ";".join(event.objects),
            }
        )
    return out.getvalue()
