"""Chooses the AI provider the settings name."""

from pathlib import Path

import httpx

from activities.ai.local.provider import LocalProvider, shared_models
from activities.ai.openai_compat import OpenAIProvider
from activities.ai.provider import AIProvider
from core.settings import AIProvider as ProviderKind
from core.settings import Settings


def build_provider(settings: Settings, http_client: httpx.AsyncClient) -> AIProvider:
    """`http_client` is used only by remote providers; give the AI worker its own client
    (no base URL or auth headers of the business systems)."""
    if settings.ai_provider is ProviderKind.OPENAI:
        return OpenAIProvider(
            http_client,
            base_url=settings.openai_base_url,
            api_key=settings.openai_api_key.get_secret_value(),
            model=settings.openai_model,
        )
    return LocalProvider(shared_models(learned_dir=learned_dir(settings)))


def learned_dir(settings: Settings) -> Path:
    """Where `baton ai retrain` keeps what the local models learned from corrections."""
    return settings.data_dir / "ai"
