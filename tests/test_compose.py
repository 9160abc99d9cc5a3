"""docker-compose.yml, Dockerfile and .dockerignore describe a deployment the code can run in.

Docker is not needed: these tests read the files and hold them to the Python side of the
contract (settings, task queues, search attributes) and to a few deployment rules (pinned
images, healthchecks, scalable workers, no literal secrets, a non-root image).
"""

import fnmatch
import json
import re
import tomllib
from enum import Enum
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import SecretStr

from baton.devstack import TEMPORAL_DYNAMIC_CONFIG, DevStack
from core.metrics import API_SERIES
from core.settings import Settings
from workers.metrics import WORKER_SERIES
from workflows.contracts.queues import TaskQueue
from workflows.contracts.search_attributes import SEARCH_ATTRIBUTES

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DYNAMIC_CONFIG = ROOT / "deploy/temporal/dynamicconfig/baton.yaml"

WORKERS = {f"worker-{queue.value}": queue for queue in TaskQueue}
SETUP_SERVICE = "baton-setup"  # runs `baton setup`: search attributes from the code, tables
CODEC_SERVICE = "codec-server"  # opens sealed payloads for the Temporal UI
APP_SERVICES = ["api", "systems", CODEC_SERVICE, SETUP_SERVICE, *WORKERS]
INFRA_SERVICES = [
    "postgresql",
    "temporal-schema",
    "temporal",
    "temporal-setup",
    "temporal-ui",
    "prometheus",
    "grafana",
]
NAMESPACE_SERVICE = "temporal-setup"
NAMESPACE_SCRIPT = ROOT / "deploy/temporal/setup-namespace.sh"
# What a hand-written registration looks like: Name=Type, as the Temporal CLI spells types.
_HAND_LISTED_ATTRIBUTE = re.compile(r"\b\w+=(Keyword|KeywordList|Text|Int|Double|Bool|Datetime)\b")
MUST_BE_HEALTHCHECKED = ["postgresql", "temporal", "api", "systems", CODEC_SERVICE]
DEPENDS_ON_CONDITIONS = {
    "service_started",
    "service_healthy",
    "service_completed_successfully",
}
# Settings whose defaults only suit a developer's machine: this minimum, plus every field whose
# default is empty, `dev`, relative or on localhost (derived from Settings.model_fields).
MUST_BE_SET_IN_CONTAINERS = {"env", "temporal_address", "database_url", "systems_url", "api_host"}

_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}")
_SECRET_NAME = re.compile(
    r"PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|PRIVATE_KEY|_KEYS$", re.IGNORECASE
)


# --- reading the files ---------------------------------------------------------------------------


@cache
def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def _services() -> dict[str, dict[str, Any]]:
    services = _compose().get("services")
    assert isinstance(services, dict), "docker-compose.yml: services must be a mapping"
    assert services, "docker-compose.yml has no services"
    return services


def _service(name: str) -> dict[str, Any]:
    services = _services()
    assert name in services, f"docker-compose.yml has no service {name!r}"
    return services[name]


def _environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whether written as a mapping or as a list."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.partition("=") for item in env)
        return {key: value for key, _, value in pairs}
    return {key: "" if value is None else str(value) for key, value in env.items()}


def _command(service: dict[str, Any]) -> list[str]:
    command = service.get("command") or []
    return command.split() if isinstance(command, str) else [str(part) for part in command]


def _depends_on(service: dict[str, Any]) -> dict[str, str]:
    """Target -> condition; the short list form means service_started."""
    depends = service.get("depends_on") or {}
    if isinstance(depends, list):
        return dict.fromkeys(depends, "service_started")
    return {
        name: (spec or {}).get("condition", "service_started") for name, spec in depends.items()
    }


def _resolve_defaults(text: str) -> str:
    """`${VAR:-default}` -> default, `${VAR}` / `${VAR:?msg}` -> '' (what is left when unset)."""

    def replace(match: re.Match[str]) -> str:
        return match["arg"] if match["op"] in (":-", "-") else ""

    return _INTERPOLATION.sub(replace, text)


def _image_tag(image: str) -> str | None:
    """The tag of `[registry[:port]/]repo[:tag][@digest]`, with `${VAR:-default}` resolved."""
    image = _resolve_defaults(image).partition("@")[0]
    last = image.rsplit("/", 1)[-1]
    return last.partition(":")[2] or None


def _baton_field_env_names() -> dict[str, str]:
    """BATON_<FIELD> -> field name, for every field of core.settings.Settings."""
    prefix = str(Settings.model_config.get("env_prefix", ""))
    assert prefix == "BATON_", f"Settings env_prefix changed to {prefix!r}; update this test"
    return {f"{prefix}{name.upper()}": name for name in Settings.model_fields}


def _default_as_text(field_name: str) -> str:
    default = Settings.model_fields[field_name].get_default(call_default_factory=True)
    if isinstance(default, SecretStr):
        return default.get_secret_value()
    if isinstance(default, Enum):
        return str(default.value)
    return "" if default is None else str(default)


# Settings whose empty default means "none" everywhere, containers included.
# ids: the last; an OTLP endpoint: no tracing
EMPTY_IS_A_VALUE = {"task_queue_prefix", "codec_key_id", "signing_key_id", "otel_endpoint"}


def _needs_value_in_container(field_name: str) -> bool:
    """A setting whose default only makes sense on a developer's machine."""
    if Settings.model_fields[field_name].annotation is SecretStr:
        return False  # secrets are optional pass-throughs (e.g. the OpenAI key)
    if field_name in EMPTY_IS_A_VALUE:
        return False
    default = _default_as_text(field_name)
    return (
        default in ("", "dev")
        or "localhost" in default
        or "127.0.0.1" in default
        or default.startswith(".")  # relative to whatever the working directory is
    )


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def _dockerignore_excludes(path: str) -> bool:
    """Docker's rule, simplified: the last matching pattern wins, a pattern that matches a
    directory covers everything below it, `!` re-includes, `**/` matches at any depth."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    parts = path.split("/")
    prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
    anywhere = [
        "/".join(parts[start : end + 1]) for end in range(len(parts)) for start in range(end + 1)
    ]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if pattern.startswith("**/"):
            candidates, pattern = anywhere, pattern.removeprefix("**/")
        else:
            candidates = prefixes
        if any(fnmatch.fnmatchcase(candidate, pattern) for candidate in candidates):
            excluded = not negate
    return excluded


# --- services ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [*INFRA_SERVICES, *APP_SERVICES])
def test_service_exists(name: str) -> None:
    assert name in _services(), f"docker-compose.yml lacks service {name!r}"


@pytest.mark.parametrize("name", MUST_BE_HEALTHCHECKED)
def test_service_has_healthcheck(name: str) -> None:
    check = _service(name).get("healthcheck") or {}
    test = check.get("test")
    assert test, f"{name}: needs a healthcheck (others wait on it)"
    assert not check.get("disable"), f"{name}: healthcheck is disabled"
    assert test not in (["NONE"], "NONE"), f"{name}: healthcheck is switched off"


def test_every_service_has_an_image_or_a_build() -> None:
    missing = [name for name, svc in _services().items() if not svc.get("image", svc.get("build"))]
    assert not missing, f"services with neither image nor build: {missing}"


@pytest.mark.parametrize("name", sorted(_compose().get("services", {})))
def test_image_is_pinned(name: str) -> None:
    service = _service(name)
    image = service.get("image")
    if image is None:
        assert service.get("build"), f"{name}: has neither image nor build"
        return
    tag = _image_tag(str(image))
    assert tag, f"{name}: image {image!r} has no tag; pin an exact version"
    assert tag != "latest", f"{name}: image {image!r} uses 'latest'; pin an exact version"
    if not service.get("build"):
        # Third-party images: an exact release (major.minor at least), not a floating major.
        assert re.match(r"v?\d+\.\d+", tag), f"{name}: {image!r} is not an exact version tag"


@pytest.mark.parametrize("name", sorted(WORKERS))
def test_worker_can_scale(name: str) -> None:
    service = _service(name)
    assert "container_name" not in service, f"{name}: container_name blocks `--scale`"
    assert not service.get("ports"), f"{name}: host ports collide when scaled: {service['ports']}"
    assert "hostname" not in service, f"{name}: a fixed hostname is shared by every replica"


def test_worker_services_match_task_queues() -> None:
    served = {}
    for name, service in _services().items():
        command = _command(service)
        if command[:2] == ["baton", "worker"]:
            assert "--queue" in command, f"{name}: serve one queue per service (--queue NAME)"
            served[name] = command[command.index("--queue") + 1]
    expected = {name: queue.value for name, queue in WORKERS.items()}
    assert served == expected, (
        f"worker services and their queues {served} differ from TaskQueue {expected}"
    )


def test_depends_on_targets_exist_with_valid_conditions() -> None:
    services = _services()
    problems = []
    for name, service in services.items():
        for target, condition in _depends_on(service).items():
            if target not in services:
                problems.append(f"{name} -> {target}: no such service")
            elif condition not in DEPENDS_ON_CONDITIONS:
                problems.append(f"{name} -> {target}: unknown condition {condition!r}")
            elif condition == "service_healthy" and not services[target].get("healthcheck"):
                problems.append(f"{name} -> {target}: waits for healthy, but it has no healthcheck")
            elif condition == "service_completed_successfully" and str(
                services[target].get("restart", "no")
            ) in ("always", "unless-stopped"):
                problems.append(f"{name} -> {target}: waits for a service that never completes")
    assert not problems, "bad depends_on:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("name", "needs"),
    [
        ("temporal", {"postgresql": "service_healthy"}),
        ("api", {"temporal": "service_healthy", "postgresql": "service_healthy"}),
        *[(worker, {"temporal": "service_healthy"}) for worker in WORKERS],
        ("worker-inbox", {"postgresql": "service_healthy"}),
    ],
)
def test_start_order(name: str, needs: dict[str, str]) -> None:
    depends = _depends_on(_service(name))
    missing = {target: cond for target, cond in needs.items() if depends.get(target) != cond}
    assert not missing, f"{name}: must depend on {missing}; has {depends}"


def test_dependency_graph_has_no_cycle() -> None:
    services = _services()
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "active", f"depends_on cycle: {' -> '.join([*path, name])}"
        state[name] = "active"
        for target in _depends_on(services.get(name, {})):
            visit(target, [*path, name])
        state[name] = "done"

    for name in services:
        visit(name, [])


def _bind_sources(service: dict[str, Any]) -> list[str]:
    sources = []
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            if volume.get("type") == "bind":
                sources.append(str(volume.get("source", "")))
        elif str(volume).startswith((".", "/", "~")):
            sources.append(str(volume).split(":")[0])
    return sources


def test_bind_mounts_exist_in_the_repository() -> None:
    missing = [
        f"{name}: {source}"
        for name, service in _services().items()
        for source in _bind_sources(service)
        if source.startswith(".") and not (ROOT / source).exists()
    ]
    assert not missing, f"bind-mounted paths missing from the repository: {missing}"


def test_named_volumes_are_declared() -> None:
    declared = set(_compose().get("volumes") or {})
    used = {
        str(volume).split(":")[0]
        for service in _services().values()
        for volume in service.get("volumes") or []
        if isinstance(volume, str) and not volume.startswith((".", "/")) and ":" in volume
    }
    assert "postgresql-data" in used, "postgresql should keep its data in a named volume"
    assert used <= declared, f"named volumes used but not declared: {sorted(used - declared)}"


# --- secrets -------------------------------------------------------------------------------------


def test_secrets_are_not_literal() -> None:
    problems = []
    for name, service in _services().items():
        for key, value in _environment(service).items():
            if _SECRET_NAME.search(key) and not re.fullmatch(_INTERPOLATION.pattern, value):
                problems.append(f"{name}: {key}={value!r} is not a ${{VAR...}} reference")
            userinfo = urlsplit(value).password if "://" in value else None
            if userinfo and not re.fullmatch(_INTERPOLATION.pattern, userinfo):
                problems.append(f"{name}: {key} embeds a literal password")
    assert not problems, "literal secrets in docker-compose.yml:\n" + "\n".join(problems)


def test_secret_references_are_required_or_empty() -> None:
    """A secret is either required (`${X:?msg}`) or optional with no default (`${X:-}`)."""
    text = COMPOSE_FILE.read_text()
    problems = [
        match[0]
        for match in _INTERPOLATION.finditer(text)
        if _SECRET_NAME.search(match["name"])
        and not (match["op"] in (":?", "?") or (match["op"] in (":-", "-") and not match["arg"]))
    ]
    assert not problems, f"secrets with a default value or no required marker: {problems}"


def test_postgres_password_is_required() -> None:
    env = _environment(_service("postgresql"))
    password = env.get("POSTGRES_PASSWORD", "")
    assert password.startswith("${POSTGRES_PASSWORD:?"), (
        f"postgresql: POSTGRES_PASSWORD must be ${{POSTGRES_PASSWORD:?...}}, is {password!r}"
    )


# --- search attributes ---------------------------------------------------------------------------


def _declared_attribute_names() -> list[str]:
    names = [key.name for key in SEARCH_ATTRIBUTES]
    assert names, "workflows/contracts/search_attributes.py declares no search attributes"
    return names


def _strings(value: Any) -> list[str]:
    """Every string in a service definition: commands, entrypoints, environment, ..."""
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [str(key), *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [] if value is None else [str(value)]


def test_no_service_lists_search_attributes_by_hand() -> None:
    """They are declared once, in the code; `baton setup` registers them from there."""
    names = _declared_attribute_names()
    problems = [
        f"{name}: {text!r}"
        for name, service in _services().items()
        for text in _strings(service)
        if _HAND_LISTED_ATTRIBUTE.search(text) or any(attr in text for attr in names)
    ]
    assert not problems, (
        "search attributes listed by hand in docker-compose.yml (they come from "
        "workflows/contracts/search_attributes.py through `baton setup`):\n" + "\n".join(problems)
    )
    assert not _command(_service(NAMESPACE_SERVICE)), (
        f"{NAMESPACE_SERVICE} takes no arguments any more; it only creates the namespace"
    )


def test_namespace_script_no_longer_registers_search_attributes() -> None:
    assert NAMESPACE_SCRIPT.is_file(), "deploy/temporal/setup-namespace.sh is missing"
    code = "\n".join(
        line
        for line in NAMESPACE_SCRIPT.read_text().splitlines()
        if not line.lstrip().startswith("#")
    )
    assert "search-attribute" not in code, "setup-namespace.sh still registers search attributes"
    assert not _HAND_LISTED_ATTRIBUTE.search(code), "setup-namespace.sh still handles Name=Type"
    leftovers = [name for name in _declared_attribute_names() if name in code]
    assert not leftovers, f"setup-namespace.sh still names search attributes {leftovers}"
    assert "namespace create" in code, "setup-namespace.sh must still create the namespace"


def test_namespace_setup_runs_after_temporal() -> None:
    setup = _service(NAMESPACE_SERVICE)
    assert _depends_on(setup).get("temporal") == "service_healthy", (
        f"{NAMESPACE_SERVICE} must wait for a healthy temporal"
    )
    script = str(setup.get("entrypoint", "")) + " ".join(_command(setup))
    assert "setup-namespace.sh" in script, f"{NAMESPACE_SERVICE} must run setup-namespace.sh"


def test_baton_setup_runs_after_the_namespace_and_before_the_app() -> None:
    setup = _service(SETUP_SERVICE)
    assert _command(setup) == ["baton", "setup"], f"{SETUP_SERVICE} must run `baton setup`"
    assert str(setup.get("restart", "no")) == "no", f"{SETUP_SERVICE} is a one-shot: restart no"
    needs = {
        NAMESPACE_SERVICE: "service_completed_successfully",
        "postgresql": "service_healthy",
    }
    depends = _depends_on(setup)
    missing = {target: cond for target, cond in needs.items() if depends.get(target) != cond}
    assert not missing, f"{SETUP_SERVICE}: must depend on {missing}; has {depends}"
    for name in ["api", *WORKERS]:
        condition = _depends_on(_service(name)).get(SETUP_SERVICE)
        assert condition == "service_completed_successfully", (
            f"{name}: start after {SETUP_SERVICE} completed (has {condition!r})"
        )


# --- settings ------------------------------------------------------------------------------------


def test_no_unknown_baton_variables() -> None:
    known = _baton_field_env_names()
    unknown = [
        f"{name}: {key}"
        for name, service in _services().items()
        for key in _environment(service)
        if key.startswith("BATON_") and key not in known
    ]
    shared = [key for key in _compose().get("x-baton-env", {}) if key not in known]
    unknown += [f"x-baton-env: {key}" for key in shared]
    assert not unknown, (
        f"BATON_ variables core.settings.Settings does not know (typos?): {unknown}; "
        f"known: {sorted(known)}"
    )


def test_container_critical_settings_exist_in_settings() -> None:
    missing = MUST_BE_SET_IN_CONTAINERS - set(Settings.model_fields)
    assert not missing, f"{sorted(missing)} are not Settings fields any more; revisit this test"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_sets_every_container_critical_setting(name: str) -> None:
    env = _environment(_service(name))
    needed = {
        env_name
        for env_name, field in _baton_field_env_names().items()
        if _needs_value_in_container(field) or field in MUST_BE_SET_IN_CONTAINERS
    }
    missing = sorted(key for key in needed if not _resolve_defaults(env.get(key, "")).strip())
    assert not missing, f"{name}: settings with no usable default in a container unset: {missing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_uses_the_shared_environment(name: str) -> None:
    shared = {key: str(value) for key, value in _compose()["x-baton-env"].items()}
    env = _environment(_service(name))
    differing = {key: env.get(key) for key, value in shared.items() if env.get(key) != value}
    assert not differing, f"{name}: differs from x-baton-env in {differing}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_runs_in_prod(name: str) -> None:
    env = _environment(_service(name))
    assert env.get("BATON_ENV") == "prod", f"{name}: BATON_ENV must be prod (dev seeds demo keys)"


def test_shared_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a container gets when only the required variables are set loads as Settings."""

    def required(name: str) -> str:
        return "{}" if name.endswith("_KEYS") else f"required-{name.lower()}"  # JSON key maps

    def resolve(value: str) -> str:
        return _INTERPOLATION.sub(
            lambda m: m["arg"] if m["op"] in (":-", "-") else required(m["name"]),
            value,
        )

    for key in _baton_field_env_names():
        monkeypatch.delenv(key, raising=False)
    for key, value in _compose()["x-baton-env"].items():
        monkeypatch.setenv(key, resolve(str(value)))
    settings = Settings(_env_file=None)
    assert settings.env.value == "prod"
    assert settings.temporal_host_port == ("temporal", 7233)
    assert settings.api_host == "0.0.0.0"


def test_pass_through_defaults_do_not_blank_settings() -> None:
    """`BATON_X: ${BATON_X:-}` would replace a non-empty Settings default with ''."""
    fields = _baton_field_env_names()
    blanked = [
        f"{key} (Settings default {_default_as_text(fields[key])!r})"
        for key, value in _compose()["x-baton-env"].items()
        if key in fields
        and _default_as_text(fields[key])
        and not _resolve_defaults(str(value)).strip()
        and not re.fullmatch(r"\$\{\w+:?\?[^}]*\}", str(value))  # required: compose refuses
    ]
    assert not blanked, f"x-baton-env blanks settings when the variable is unset: {blanked}"


def test_addresses_point_at_compose_services() -> None:
    env = _compose()["x-baton-env"]
    services = _services()
    temporal_host, _, temporal_port = str(env["BATON_TEMPORAL_ADDRESS"]).rpartition(":")
    database = urlsplit(_resolve_defaults(str(env["BATON_DATABASE_URL"])))
    systems = urlsplit(str(env["BATON_SYSTEMS_URL"]))
    targets = {
        "BATON_TEMPORAL_ADDRESS": (temporal_host, "temporal", temporal_port, "7233"),
        "BATON_DATABASE_URL": (database.hostname, "postgresql", str(database.port), "5432"),
        "BATON_SYSTEMS_URL": (systems.hostname, "systems", str(systems.port), "8100"),
    }
    for key, (host, service, port, expected_port) in targets.items():
        assert host == service, f"{key} must name service {service!r}, names {host!r}"
        assert service in services, f"{key} points at {service!r}, which is not a service"
        assert port == expected_port, f"{key}: port {port}, the service listens on {expected_port}"
    assert database.scheme.startswith("postgresql"), "BATON_DATABASE_URL must be PostgreSQL"
    assert database.path == "/baton", "BATON_DATABASE_URL must use the database `baton`"


@pytest.mark.parametrize(
    ("name", "port_key"),
    [("api", "BATON_API_PORT"), ("systems", None), (CODEC_SERVICE, "BATON_CODEC_PORT")],
)
def test_published_port_matches_setting(name: str, port_key: str | None) -> None:
    env = _compose()["x-baton-env"]
    systems_port = urlsplit(str(env["BATON_SYSTEMS_URL"])).port
    port = str(env[port_key]) if port_key else str(systems_port)
    published = [str(p).rsplit(":", 1)[-1] for p in _service(name).get("ports") or []]
    assert port in published, f"{name}: listens on {port}, publishes container ports {published}"
    healthcheck = " ".join(map(str, _service(name)["healthcheck"]["test"]))
    assert f":{port}/health" in healthcheck, f"{name}: healthcheck must GET :{port}/health"


def test_temporal_ui_is_reachable_where_the_links_point() -> None:
    ui = _service("temporal-ui")
    assert _environment(ui).get("TEMPORAL_ADDRESS") == "temporal:7233", (
        "temporal-ui must talk to temporal:7233"
    )
    host_ports = [str(p).rsplit(":", 2)[-2] for p in ui.get("ports") or [] if ":" in str(p)]
    link = urlsplit(_resolve_defaults(str(_compose()["x-baton-env"]["BATON_TEMPORAL_UI_URL"])))
    assert str(link.port) in host_ports, (
        f"BATON_TEMPORAL_UI_URL defaults to port {link.port}; temporal-ui publishes {host_ports}"
    )


def test_temporal_ui_decodes_through_the_codec_server() -> None:
    """The UI's browser side calls the codec server where it is published, with the session
    cookie; the codec server admits the UI's origin; every container has the payload keys."""
    env = _compose()["x-baton-env"]
    codec = _service(CODEC_SERVICE)
    assert _command(codec)[:2] == ["baton", "codec-server"], f"{CODEC_SERVICE}: baton codec-server"
    ui = _environment(_service("temporal-ui"))
    endpoint = _resolve_defaults(ui.get("TEMPORAL_CODEC_ENDPOINT", ""))
    assert endpoint, "temporal-ui: set TEMPORAL_CODEC_ENDPOINT to the codec server"
    assert endpoint == _resolve_defaults(str(env["BATON_CODEC_URL"])), (
        "temporal-ui's TEMPORAL_CODEC_ENDPOINT and BATON_CODEC_URL must name the same server"
    )
    published = {str(p).rsplit(":", 2)[-2]: str(p).rsplit(":", 1)[-1] for p in codec["ports"]}
    port = str(urlsplit(endpoint).port)
    assert published.get(port) == str(env["BATON_CODEC_PORT"]), (
        f"the UI calls port {port}; {CODEC_SERVICE} publishes {published} (host: container)"
    )
    # The person's session travels as a cookie; an access token would be the UI's own OIDC one.
    assert ui.get("TEMPORAL_CODEC_INCLUDE_CREDENTIALS") == "true"
    assert ui.get("TEMPORAL_CODEC_PASS_ACCESS_TOKEN", "false") == "false"
    keys = str(env.get("BATON_CODEC_KEYS", ""))
    assert keys.startswith("${BATON_CODEC_KEYS:?"), "BATON_CODEC_KEYS must be required in prod"
    assert _SECRET_NAME.search("BATON_CODEC_KEYS"), "the secret checks must cover the keys"


# --- Temporal's dynamic config -------------------------------------------------------------------

TEMPORAL_WORKDIR = PurePosixPath("/etc/temporal")  # the server image's working directory


def _compose_dynamic_config_file() -> Path:
    """The file the compose Temporal server reads: DYNAMIC_CONFIG_FILE_PATH (relative to the
    image's working directory) through the service's bind mount, back to the repository."""
    temporal = _service("temporal")
    setting = _environment(temporal).get("DYNAMIC_CONFIG_FILE_PATH", "")
    assert setting, "temporal: set DYNAMIC_CONFIG_FILE_PATH to Baton's dynamic config"
    inside = TEMPORAL_WORKDIR / setting
    for volume in temporal.get("volumes") or []:
        source, _, rest = str(volume).partition(":")
        target = PurePosixPath(rest.partition(":")[0])
        if source.startswith(".") and inside.is_relative_to(target):
            return ROOT / source / inside.relative_to(target)
    raise AssertionError(f"temporal: no bind mount of the repository holds {inside}")


def _compose_dynamic_config() -> dict[str, Any]:
    """Key -> value of the compose dynamic config; one value per key, for every namespace and
    task queue (no constraints), as the dev server's --dynamic-config-value gives."""
    path = _compose_dynamic_config_file()
    assert path.is_file(), f"{path.relative_to(ROOT)} is missing"
    data = yaml.safe_load(path.read_text()) or {}
    values = {}
    for key, entries in data.items():
        one_value = f"{key}: one unconstrained value, as the dev server has, not {entries!r}"
        assert isinstance(entries, list), one_value
        assert len(entries) == 1, one_value
        assert set(entries[0]) == {"value"}, f"{key}: constraints the dev server lacks"
        values[key] = entries[0]["value"]
    return values


def _dev_server_dynamic_config() -> dict[str, Any]:
    """The --dynamic-config-value pairs of the dev server `baton dev` starts."""
    argv = DevStack(Settings(_env_file=None))._temporal_argv()
    pairs = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--dynamic-config-value"]
    return {key: json.loads(value) for key, _, value in (p.partition("=") for p in pairs)}


def test_compose_temporal_reads_batons_dynamic_config() -> None:
    assert _compose_dynamic_config_file() == DYNAMIC_CONFIG


def test_compose_and_dev_server_dynamic_config_agree() -> None:
    """Priority and fairness behave the same on the compose server as on `baton dev`'s and the
    tests' (which start from the same TEMPORAL_DYNAMIC_CONFIG)."""
    compose, dev = _compose_dynamic_config(), _dev_server_dynamic_config()
    assert dev == TEMPORAL_DYNAMIC_CONFIG, f"baton dev passes {dev}"
    assert compose == dev, (
        f"deploy/temporal/dynamicconfig/baton.yaml {compose} differs from the dev server's "
        f"flags {dev} (baton/devstack.py TEMPORAL_DYNAMIC_CONFIG)"
    )
    for key in ("matching.useNewMatcher", "matching.enableFairness"):
        assert compose.get(key) is True, f"{key} must be on: priority and fairness need it"


# --- image ---------------------------------------------------------------------------------------


def test_dockerfile_base_images_are_pinned() -> None:
    instructions = _dockerfile_instructions()
    args: dict[str, str] = {}
    for keyword, rest in instructions:
        if keyword == "ARG" and "=" in rest:
            key, _, value = rest.partition("=")
            args.setdefault(key.strip(), value.strip())
    stages: set[str] = set()
    bases = []
    for keyword, rest in instructions:
        if keyword != "FROM":
            continue
        words = [w for w in rest.split() if not w.startswith("--")]
        image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m[1], ""), words[0])
        if len(words) >= 3 and words[1].upper() == "AS":
            stages.add(words[2])
        if image not in stages:
            bases.append(image)
    assert bases, "Dockerfile has no FROM"
    for image in bases:
        tag = _image_tag(image)
        assert tag, f"base image {image!r} has no tag"
        assert tag != "latest", f"base image {image!r} uses 'latest'"
        assert re.match(r"\d+\.\d+\.\d+", tag), f"base image {image!r}: pin the exact patch release"
        assert image.startswith("python:3.11"), f"base image {image!r}: the project targets 3.11"


def test_dockerfile_runs_as_non_root() -> None:
    instructions = _dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    users = [rest for keyword, rest in instructions[last_from:] if keyword == "USER"]
    assert users, "the final stage of the Dockerfile never switches away from root (USER)"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), f"the image runs as {users[-1]!r}"


def test_dockerfile_copies_every_package_and_exposes_ports() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    include = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in include}
    copied = {
        rest.split()[0].strip("./")
        for keyword, rest in _dockerfile_instructions()
        if keyword == "COPY" and not rest.startswith("--from")
    }
    assert packages <= copied, f"Dockerfile does not COPY packages {sorted(packages - copied)}"
    exposed = {
        port.split("/")[0]
        for keyword, rest in _dockerfile_instructions()
        if keyword == "EXPOSE"
        for port in rest.split()
    }
    assert {"8000", "8100"} <= exposed, f"Dockerfile exposes {sorted(exposed)}, needs 8000 8100"
    commands = [rest for keyword, rest in _dockerfile_instructions() if keyword in ("CMD", "RUN")]
    assert any("pip install ." in command for command in commands), "Dockerfile must pip install ."


@pytest.mark.parametrize(
    "path",
    [
        ".venv/bin/python",
        ".data/temporal.db",
        ".git/HEAD",
        ".env",
        ".pytest_cache/v/cache",
        ".mypy_cache/3.11/core",
        "core/__pycache__/settings.cpython-311.pyc",
        "tests/test_compose.py",
    ],
)
def test_dockerignore_keeps_out(path: str) -> None:
    assert _dockerignore_excludes(path), f".dockerignore lets {path!r} into the build context"


@pytest.mark.parametrize(
    "path", ["pyproject.toml", "README.md", "core/settings.py", "workflows/contracts/queues.py"]
)
def test_dockerignore_lets_in(path: str) -> None:
    assert not _dockerignore_excludes(path), f".dockerignore keeps {path!r} out; the build needs it"


# --- metrics -------------------------------------------------------------------------------------

PROMETHEUS_CONFIG = ROOT / "deploy/prometheus/prometheus.yml"
DASHBOARD = ROOT / "deploy/grafana/dashboards/baton.json"


def test_prometheus_scrapes_the_api_and_every_worker_where_they_serve() -> None:
    scrape = {
        job["job_name"]: job
        for job in yaml.safe_load(PROMETHEUS_CONFIG.read_text())["scrape_configs"]
    }
    api_port = _environment(_service("api"))["BATON_API_PORT"]
    assert scrape["baton-api"]["static_configs"][0]["targets"] == [f"api:{api_port}"]
    assert scrape["baton-api"]["metrics_path"] == "/metrics"
    worker_address = _environment(_service(next(iter(WORKERS))))["BATON_WORKER_METRICS_ADDRESS"]
    (found,) = scrape["baton-workers"]["dns_sd_configs"]
    assert sorted(found["names"]) == sorted(WORKERS)
    assert found["port"] == int(worker_address.rsplit(":", 1)[1])


def test_the_dashboard_shows_only_series_baton_or_the_sdk_exposes() -> None:
    exprs = [
        target["expr"]
        for panel in json.loads(DASHBOARD.read_text())["panels"]
        for target in panel["targets"]
    ]
    named = {name for expr in exprs for name in re.findall(r"\b(baton_[a-z_]+)", expr)}
    known = set(API_SERIES) | set(WORKER_SERIES)
    unknown = {
        name for name in named if re.sub(r"_(bucket|count|sum|total)$", "", name) not in known
    }
    assert not unknown, f"the dashboard queries series nobody exposes: {sorted(unknown)}"
    assert named, "the dashboard shows none of Baton's series"
    assert any("temporal_" in expr for expr in exprs), "nor the SDK's"
    provisioned = yaml.safe_load(
        (ROOT / "deploy/grafana/provisioning/dashboards/baton.yml").read_text()
    )
    mounts = dict(volume.split(":")[:2] for volume in _service("grafana")["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provisioned["providers"][0]["options"]["path"]
