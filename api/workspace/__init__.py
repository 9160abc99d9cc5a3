"""The people's workspace at /app: server-rendered pages over the same functions as /v1.

Sign-in makes a session cookie (`sign_in`); the inbox, task pages and bulk decisions are in
`tasks`, processes and starting them in `processes`, managers' figures in `insight`. Pages
are Jinja templates with one stylesheet and one small script, all served from here.
"""

from fastapi import APIRouter
from fastapi.staticfiles import StaticFiles

from api.workspace import insight, processes, sign_in, tasks
from api.workspace.pages import HERE, PREFIX

router = APIRouter()
for module in (sign_in, tasks, processes, insight):
    router.include_router(module.router)

static = StaticFiles(directory=HERE / "static")
STATIC_PATH = f"{PREFIX}/static"
