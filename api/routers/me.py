"""GET /v1/me: who the API key belongs to; the quickest check that a key works."""

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentUser
from api.errors import responses
from workflows.contracts.roles import Role

router = APIRouter(prefix="/v1", tags=["users"], responses=responses(401, 429, 500, 503))


class Me(BaseModel):
    name: str
    roles: list[Role]


@router.get("/me", response_model=Me)
async def me(user: CurrentUser) -> Me:
    return Me.model_validate({"name": user.name, "roles": user.roles})
