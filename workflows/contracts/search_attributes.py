"""Baton's custom search attributes: how people find and read a run in the Temporal UI.

Declared once, here. Workflow code upserts these keys, the API filters and reads them, and
`baton dev`, `baton setup` (docker-compose) and the tests register them from `SEARCH_ATTRIBUTES`.
"""

from temporalio.common import SearchAttributeKey

PROCESS_TYPE = SearchAttributeKey.for_keyword("BatonProcessType")
BUSINESS_KEY = SearchAttributeKey.for_keyword("BatonBusinessKey")
STATUS = SearchAttributeKey.for_keyword("BatonStatus")
STAGE = SearchAttributeKey.for_keyword("BatonStage")
WAITING_ON = SearchAttributeKey.for_keyword("BatonWaitingOn")
CUSTOMER = SearchAttributeKey.for_keyword("BatonCustomer")
AMOUNT = SearchAttributeKey.for_float("BatonAmount")
REQUESTED_BY = SearchAttributeKey.for_keyword("BatonRequestedBy")

# Every attribute with what it means to a person reading the UI.
SEARCH_ATTRIBUTES: dict[SearchAttributeKey[str] | SearchAttributeKey[float], str] = {
    PROCESS_TYPE: "e.g. order-fulfillment",
    BUSINESS_KEY: "order or invoice number",
    STATUS: "running, waiting, completed, rejected, cancelled or failed",
    STAGE: "current stage of the process",
    WAITING_ON: "who or what it waits for",
    CUSTOMER: "customer or vendor id",
    AMOUNT: "order or invoice amount",
    REQUESTED_BY: "user who started it",
}

NOBODY = "nobody"  # the WaitingOn value of a run that waits on no one


def type_name(key: SearchAttributeKey[str] | SearchAttributeKey[float]) -> str:
    """The type as the Temporal CLI and server spell it: Keyword, Double, ..."""
    return key.indexed_value_type.name.title()
