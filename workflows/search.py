"""Typed keys for Baton's search attributes, for workflow code to upsert."""

from temporalio.common import SearchAttributeKey

PROCESS_TYPE = SearchAttributeKey.for_keyword("BatonProcessType")
BUSINESS_KEY = SearchAttributeKey.for_keyword("BatonBusinessKey")
STAGE = SearchAttributeKey.for_keyword("BatonStage")
WAITING_ON = SearchAttributeKey.for_keyword("BatonWaitingOn")
CUSTOMER = SearchAttributeKey.for_keyword("BatonCustomer")
AMOUNT = SearchAttributeKey.for_float("BatonAmount")
REQUESTED_BY = SearchAttributeKey.for_keyword("BatonRequestedBy")
