"""The top level: the `baton` command and the dev launcher; the only code besides `workers/`
and `tests/` that may import `api/`, `systems/` and `workers/`."""
