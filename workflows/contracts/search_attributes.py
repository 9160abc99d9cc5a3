"""Baton's custom search attributes: how people find and read a run in the Temporal UI.

One list serves the dev server (`--search-attribute`), docker-compose (registered by its setup
service) and the workflows that upsert them, so the three never drift apart.
"""

from enum import StrEnum
from typing import NamedTuple


class SearchAttributeType(StrEnum):
    # Names as the Temporal CLI and server spell the indexed value types.
    KEYWORD = "Keyword"
    TEXT = "Text"
    DOUBLE = "Double"
    DATETIME = "Datetime"


class SearchAttribute(NamedTuple):
    name: str
    type: SearchAttributeType
    meaning: str


SEARCH_ATTRIBUTES: tuple[SearchAttribute, ...] = (
    SearchAttribute("BatonProcessType", SearchAttributeType.KEYWORD, "e.g. order-fulfillment"),
    SearchAttribute("BatonBusinessKey", SearchAttributeType.KEYWORD, "order or invoice number"),
    SearchAttribute("BatonStage", SearchAttributeType.KEYWORD, "current stage of the process"),
    SearchAttribute("BatonWaitingOn", SearchAttributeType.KEYWORD, "who or what it waits for"),
    SearchAttribute("BatonCustomer", SearchAttributeType.KEYWORD, "customer or vendor id"),
    SearchAttribute("BatonAmount", SearchAttributeType.DOUBLE, "order or invoice amount"),
    SearchAttribute("BatonRequestedBy", SearchAttributeType.KEYWORD, "user who started it"),
)


def cli_flags() -> list[str]:
    """`--search-attribute Name=Type` pairs for `temporal server start-dev`."""
    flags: list[str] = []
    for attribute in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{attribute.name}={attribute.type.value}"]
    return flags
