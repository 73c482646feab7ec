"""The package map holds: feature packages know no HTTP, the web layers sit on top, no cycle.

Every import of `campaign` (at module level or inside a function) is an arrow; an arrow that
runs back up the layers, or between two web layers, fails the test with its file and line.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "campaign"

CORE = "core"
FEATURES = frozenset(
    {
        "letter",
        "territories",
        "register",
        "signing",
        "counts",
        "mail",
        "reach",
        "publication",
        "organisers",
        "moderation",
        "hooks",
    }
)
WEB = "web"
FACES = frozenset({"site", "api", "admin"})
COMPOSITION = frozenset({"runtime", "app", "cli", "__main__"})

# What each group may import (besides itself).
ALLOWED: dict[str, frozenset[str]] = {
    "core": frozenset(),
    "feature": frozenset({"core", "feature"}),
    "web": frozenset({"core", "feature"}),
    "runtime": frozenset({"core", "feature"}),
    "face": frozenset({"core", "feature", "web", "runtime"}),
    "top": frozenset({"core", "feature", "web", "runtime", "face", "top"}),
}


def group_of(module: str) -> str:
    top = module.split(".")[1] if "." in module else ""
    if top == CORE:
        return "core"
    if top in FEATURES:
        return "feature"
    if top == WEB:
        return "web"
    if top in FACES:
        return "face"
    if top == "runtime":
        return "runtime"
    if top in COMPOSITION or top == "":
        return "top"
    raise AssertionError(f"{module}: not in the package map (tests/test_architecture.py)")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every `campaign…` import, at any depth of the file."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("campaign")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "campaign" or node.module.startswith("campaign."):
                # `from campaign.x import y`: y may be a module of its own.
                for alias in node.names:
                    candidate = f"{node.module}.{alias.name}"
                    is_module = (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(
                        ".py"
                    ).exists() or (PACKAGE.parent / candidate.replace(".", "/")).is_dir()
                    found.append((node.lineno, candidate if is_module else node.module))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module":
            found.append((node.lineno, "importlib.import_module"))
    return found


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def arrows() -> dict[str, list[tuple[int, str]]]:
    return {name: imports_of(path) for name, path in MODULES.items()}


def test_every_module_is_in_the_map() -> None:
    for name in MODULES:
        group_of(name)


def test_no_arrow_runs_back_up() -> None:
    wrong = []
    for name, found in arrows().items():
        source = group_of(name)
        for line, target in found:
            if target == "importlib.import_module":
                wrong.append(f"{MODULES[name]}:{line}: hidden import (importlib)")
                continue
            if target == "campaign":
                continue
            dest = group_of(target)
            same_face = source == "face" and target.split(".")[1] == name.split(".")[1]
            if dest == source and (source != "face" or same_face):
                continue
            if dest not in ALLOWED[source] or (source == dest == "face" and not same_face):
                wrong.append(f"{MODULES[name]}:{line}: {name} ({source}) -> {target} ({dest})")
    assert not wrong, "imports against the package map:\n" + "\n".join(wrong)


def _graph(level: int | None) -> dict[str, set[str]]:
    def key(module: str) -> str:
        return module if level is None else ".".join(module.split(".")[: level + 1])

    graph: dict[str, set[str]] = {}
    for name, found in arrows().items():
        for _line, target in found:
            if target.startswith("campaign.") and key(target) != key(name):
                graph.setdefault(key(name), set()).add(key(target))
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("level", [None, 1], ids=["modules", "packages"])
def test_no_cycle(level: int | None) -> None:
    cycle = _cycle(_graph(level))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checker_sees_a_forbidden_arrow(tmp_path: Path) -> None:
    """The walk itself: an arrow from a feature package into the site is reported."""
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from campaign.site import pages\n")
    assert imports_of(bad) == [(2, "campaign.site.pages")]
    assert "face" not in ALLOWED[group_of("campaign.signing.signatures")]
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]


def test_the_package_map_in_the_docs_names_every_module() -> None:
    """docs/architecture.md lists each package of campaign/ with every module in it."""
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    section = text[text.index("## Package map") : text.index("### Layers")]
    lines: dict[str, str] = {}
    for item in section.split("\n- ")[1:]:
        head = item.split(":", 1)[0].strip("` ")
        lines[head.rstrip("/")] = " ".join(item.split())
    missing = []
    for path in sorted(PACKAGE.iterdir()):
        if path.is_dir() and (path / "__init__.py").exists():
            described = lines.get(path.name)
            if described is None:
                missing.append(f"{path.name}/ (no line)")
                continue
            for module in sorted(path.glob("*.py")):
                if module.stem != "__init__" and f"`{module.stem}`" not in described:
                    missing.append(f"{path.name}/{module.name}")
        elif (
            path.suffix == ".py"
            and path.stem not in ("__init__", "__main__")
            and f"`{path.name}`" not in section
        ):
            missing.append(path.name)
    assert not missing, "docs/architecture.md's package map does not name: " + ", ".join(missing)


def test_form_bodies_are_read_only_through_the_checked_reader() -> None:
    """`request.form()` decodes a multipart body without checking it (invalid UTF-8 is a 500):
    every handler reads forms with `campaign.web.inputs.read_form`, which refuses it with a 400."""
    reader = PACKAGE / "web" / "inputs.py"
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path == reader:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "form"
                and not node.args
            ):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not found, "forms read around web.inputs.read_form: " + ", ".join(found)
