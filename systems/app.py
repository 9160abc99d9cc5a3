"""The sandbox's FastAPI app. Bots call it in the demo, the tests and the benchmarks."""

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from systems.faults import FaultInjected, Faults, inject_faults
from systems.routers import admin, crm, erp, finance, mes, notifications
from systems.store import SandboxError, Store


def create_app(database_url: str) -> FastAPI:
    app = FastAPI(
        title="Baton enterprise-systems sandbox",
        description=(
            "A small, honest stand-in for the CRM, ERP, MES, finance and notification systems "
            "Baton's bots call. Every write honours an Idempotency-Key header."
        ),
    )
    store = Store(database_url)
    app.state.store = store
    app.state.faults = Faults()

    @app.exception_handler(SandboxError)
    async def business_error(_request: Request, exc: SandboxError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(FaultInjected)
    async def injected(_request: Request, exc: FaultInjected) -> JSONResponse:
        return exc.response()

    @app.get("/health", tags=["admin"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    for router in (crm.router, erp.router, mes.router, finance.router, notifications.router):
        app.include_router(router, dependencies=[Depends(inject_faults)])
    app.include_router(admin.router)
    return app
