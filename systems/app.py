"""The sandbox's FastAPI app. Bots call it in the demo, the tests and the benchmarks."""

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI(
        title="Baton enterprise-systems sandbox",
        description="A small, honest stand-in for the business systems Baton's bots call.",
    )

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
