"""Layering: which first-party package may import which, and what workflow code may load.

Every ``import`` / ``from ... import`` statement in every first-party module is read with
``ast`` (at module level, inside functions, under ``if``/``try``: anywhere), relative imports
resolved, and checked against RULES. A fresh interpreter then imports whole packages to catch
what a source scan cannot see: transitive and dynamic loads.
"""

import ast
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent

IO_LIBRARIES = ("httpx", "sqlalchemy", "sqlmodel", "fastapi")


class Rule(NamedTuple):
    may_import: str  # first-party prefixes, space-separated; "*" means any first-party package
    only: str | None = None  # if set: the only third-party prefixes allowed (stdlib always is)
    never: tuple[str, ...] = ()  # third-party libraries it must never import, not even transitively


# The layering. A module follows the rule of its longest matching package prefix (so
# workflows.contracts beats workflows); a package may always import itself. A first-party
# package missing from a row is forbidden to that row, and nothing installed lists tools.
# fmt: off
RULES: dict[str, Rule] = {
    # package              first-party prefixes it may import; workflow code: third-party too
    "workflows.contracts": Rule("workflows.contracts",
                                only="pydantic temporalio.common", never=IO_LIBRARIES),
    "workflows":           Rule("workflows",
                                only="pydantic temporalio", never=IO_LIBRARIES),
    "core":                Rule("core workflows.contracts"),
    "activities":          Rule("activities core workflows.contracts"),
    "api":                 Rule("api core workflows.contracts"),
    "systems":             Rule("systems"),
    "workers":             Rule("workers activities core workflows"),
    "baton":               Rule("baton workers api systems activities core workflows"),
    "tools":               Rule("tools systems activities core workflows"),  # dev-time only
    "tests":               Rule("*"),
    "bench":               Rule("*"),
    "examples":            Rule("*"),
}
# fmt: on

# Top-level first-party names: the root's packages, plus every package the table names (tools
# counts even before it exists, so no installed package can start depending on it).
FIRST_PARTY = {p.parent.name for p in ROOT.glob("*/__init__.py")} | {
    name.split(".")[0] for name in RULES
}


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def rule_for(module: str) -> tuple[str, Rule] | None:
    """The rule with the longest package prefix matching ``module``."""
    matches = [prefix for prefix in RULES if _under(module, prefix)]
    if not matches:
        return None
    prefix = max(matches, key=len)
    return prefix, RULES[prefix]


def _allowed_first_party(prefix: str, rule: Rule) -> list[str]:
    return sorted({prefix, *rule.may_import.split()})


@cache
def _is_module(name: str) -> bool:
    """Whether ``name`` (dotted, at least two parts) is a module or package, not an attribute."""
    top, *middle, last = name.split(".")
    if top in FIRST_PARTY:
        dirs = [ROOT / top]
    else:
        # find_spec on a top-level name locates the package without importing it.
        try:
            spec = find_spec(top)
        except (ImportError, ValueError):
            return False
        if spec is None or spec.submodule_search_locations is None:
            return False
        dirs = [Path(location) for location in spec.submodule_search_locations]
    for part in middle:
        dirs = [d / part for d in dirs if (d / part).is_dir()]
    return any((d / last).is_dir() or any(d.glob(f"{last}.*")) for d in dirs)


def _from_base(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` statement in ``module`` imports from."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    if not is_package:
        parts = parts[:-1]
    parts = parts[: len(parts) - (node.level - 1)]
    return ".".join([*parts, node.module] if node.module else parts)


def imported_modules(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """(line, module) for every import anywhere in ``tree``, relative imports resolved."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _from_base(node, module, is_package)
            for alias in node.names:
                # `from pkg import sub` imports the submodule pkg.sub; `from pkg import name`, pkg.
                sub = f"{base}.{alias.name}"
                yield node.lineno, sub if alias.name != "*" and _is_module(sub) else base


def check_source(source: str, module: str, path: str, is_package: bool = False) -> list[str]:
    """The layering violations in one module's source, as ``path:line: ...`` lines."""
    found = rule_for(module)
    if found is None:
        return [f"{path}:1: {module} has no rule (add its package to RULES)"]
    prefix, rule = found
    allowed = _allowed_first_party(prefix, rule)
    violations = []
    imports = imported_modules(ast.parse(source, path), module, is_package)
    for line, target in sorted(set(imports)):  # `from m import a, b`: one report
        top = target.split(".")[0]
        if top in FIRST_PARTY:
            if "*" in allowed or any(_under(target, p) for p in allowed):
                continue
            why = f"{prefix} may import {', '.join(allowed)}"
        elif top in sys.stdlib_module_names:
            continue
        elif any(_under(target, lib) for lib in rule.never):
            why = f"{prefix} never imports {', '.join(rule.never)}"
        elif rule.only is not None and not any(_under(target, p) for p in rule.only.split()):
            why = f"{prefix} may import third-party {', '.join(rule.only.split())} only"
        else:
            continue
        violations.append(f"{path}:{line}: {module} imports {target} (rule: {why})")
    return violations


def first_party_modules() -> Iterator[tuple[str, Path, bool]]:
    """(dotted name, path, is_package) for every .py file under a first-party directory."""
    for top in sorted(FIRST_PARTY):
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            is_package = parts[-1] == "__init__"
            yield ".".join(parts[:-1] if is_package else parts), path, is_package


def test_every_import_respects_the_layering() -> None:
    violations = [
        violation
        for module, path, is_package in first_party_modules()
        for violation in check_source(
            path.read_text(), module, str(path.relative_to(ROOT)), is_package
        )
    ]
    assert not violations, "layering violations:\n" + "\n".join(violations)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        pytest.param(
            "core.example",
            "def f():\n    import api.app\n",
            "core/example.py:2: core.example imports api.app"
            " (rule: core may import core, workflows.contracts)",
            id="import-inside-a-function",
        ),
        pytest.param(
            "core.example",
            "from workflows import order_fulfillment\n",
            "core/example.py:1: core.example imports workflows.order_fulfillment"
            " (rule: core may import core, workflows.contracts)",
            id="from-package-import-submodule",
        ),
        pytest.param(
            "workflows.contracts.example",
            "class M:\n    def f(self):\n        from .. import order_fulfillment\n",
            "workflows/contracts/example.py:3: workflows.contracts.example imports"
            " workflows.order_fulfillment (rule: workflows.contracts may import"
            " workflows.contracts)",
            id="relative-import-in-a-method",
        ),
        pytest.param(
            "workflows.steps.example",
            "async def run():\n    if True:\n        import httpx\n",
            "workflows/steps/example.py:3: workflows.steps.example imports httpx"
            " (rule: workflows never imports httpx, sqlalchemy, sqlmodel, fastapi)",
            id="io-library-in-workflow-code",
        ),
        pytest.param(
            "workflows.contracts.example",
            "from temporalio.client import Client\n",
            "workflows/contracts/example.py:1: workflows.contracts.example imports"
            " temporalio.client (rule: workflows.contracts may import third-party"
            " pydantic, temporalio.common only)",
            id="contracts-third-party",
        ),
        pytest.param(
            "activities.example",
            "try:\n    import tools.generate\nexcept ImportError:\n    pass\n",
            "activities/example.py:2: activities.example imports tools.generate"
            " (rule: activities may import activities, core, workflows.contracts)",
            id="nothing-installed-imports-tools",
        ),
    ],
)
def test_the_walker_reports_a_forbidden_import(module: str, source: str, expected: str) -> None:
    path = module.replace(".", "/") + ".py"
    assert check_source(source, module, path) == [expected]


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("core.example", "def f():\n    from workflows.contracts.orders import OrderPolicy\n"),
        ("workflows.contracts.example", "from temporalio import common\nimport pydantic\n"),
        ("workflows.steps.example", "from ..contracts import tasks\nfrom . import saga\n"),
        (
            "workers.example",
            "import activities.bots.crm\nfrom workflows import order_fulfillment\n",
        ),
        ("tests.example", "import api.app\nimport tools\n"),
    ],
)
def test_the_walker_lets_an_allowed_import_through(module: str, source: str) -> None:
    assert check_source(source, module, module.replace(".", "/") + ".py") == []


def _modules_after_import(modules: list[str]) -> set[str]:
    # A fresh interpreter, so modules other tests imported do not count.
    code = f"import sys, {', '.join(modules)}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        pytest.fail(f"importing {', '.join(modules)} failed:\n{out.stderr}", pytrace=False)
    return set(out.stdout.split())


@pytest.mark.parametrize("package", ["workflows", "workflows.contracts", "api"])
def test_importing_a_package_loads_nothing_its_rule_forbids(package: str) -> None:
    """Transitive loads: e.g. workflows load no I/O library, the API never loads activities."""
    rule = RULES[package]
    allowed = _allowed_first_party(package, rule)
    # Importing a.b.c also loads a and a.b: parents of an allowed prefix are fine.
    parents = {".".join(p.split(".")[:i]) for p in allowed for i in range(1, p.count(".") + 1)}
    modules = [m for m, _, _ in first_party_modules() if _under(m, package)]
    loaded = _modules_after_import(modules)
    assert set(modules) <= loaded
    forbidden = sorted(
        name
        for name in loaded
        if any(_under(name, lib) for lib in rule.never)
        or (
            name.split(".")[0] in FIRST_PARTY
            and name not in parents
            and not any(_under(name, p) for p in allowed)
        )
    )
    assert not forbidden, f"importing {package} loads {', '.join(forbidden)}"
