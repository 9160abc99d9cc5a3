"""The one place that builds Temporal clients, so every component shares the data converter."""

import dataclasses

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes
from temporalio.runtime import Runtime

from core import tracing
from core.codec import SealingCodec, load_keyring
from core.settings import Settings
from workflows.contracts.search_attributes import SEARCH_ATTRIBUTES, type_name


def data_converter(settings: Settings) -> DataConverter:
    """The one data converter: pydantic JSON, sealed by the codec (core/codec.py); failure
    messages and stack traces travel in a payload, so they are sealed too. Every client, worker
    and replayer uses it; a missing or bad key fails here, at start."""
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=SealingCodec(load_keyring(settings)),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client of Baton's Temporal; a worker passes the runtime that serves its metrics."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=data_converter(settings),
        interceptors=tracing.interceptors(settings),
        lazy=lazy,
        runtime=runtime,
    )


async def ensure_search_attributes(client: Client) -> list[str]:
    """Registers Baton's search attributes that the namespace lacks; returns the names added."""
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        key.name: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{type_name(key).upper()}")
        for key in SEARCH_ATTRIBUTES
        if key.name not in listed.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
    return sorted(missing)
