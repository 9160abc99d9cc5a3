"""GET /v1/me: who the API key belongs to; the quickest check that a key works."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentUser

router = APIRouter(prefix="/v1", tags=["users"])


class Me(BaseModel):
    name: str
    roles: list[str]


@router.get("/me", response_model=Me)
async def me(user: CurrentUser) -> Me:
    return Me(name=user.name, roles=user.roles)
