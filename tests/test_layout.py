"""The tests' own layout: fixtures come from conftest.py files only, helpers from tests/support/,
and no test module is imported by another. Read with `ast`, nothing imported."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def sources() -> dict[str, tuple[Path, ast.Module]]:
    """Every module under tests/, by dotted name."""
    return {
        module_name(path): (path, ast.parse(path.read_text(), filename=str(path)))
        for path in sorted(TESTS.rglob("*.py"))
        if ".venv" not in path.parts
    }


def imports(name: str, path: Path, tree: ast.Module) -> list[tuple[int, str, str | None]]:
    """(line, module, name imported from it or None) for every import of the file, relative
    imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, None) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, module] if module else base)
            found.extend((node.lineno, module, alias.name) for alias in node.names)
    return found


def is_fixture(decorator: ast.expr) -> bool:
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr == "fixture"
    return isinstance(target, ast.Name) and target.id == "fixture"


def fixtures(tree: ast.Module) -> set[str]:
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(is_fixture(d) for d in node.decorator_list)
    }


def is_test_module(module: str) -> bool:
    return module.rpartition(".")[2].startswith("test_")


def test_no_import_of_a_conftest_or_of_a_test_module() -> None:
    modules = sources()
    wrong: set[str] = set()
    for name, (path, tree) in modules.items():
        for line, module, imported in imports(name, path, tree):
            if module != "tests" and not module.startswith("tests."):
                continue
            targets = [module] if imported is None else [module, f"{module}.{imported}"]
            for target in targets:
                last = target.rpartition(".")[2]
                if last == "conftest" or (is_test_module(target) and target in modules):
                    wrong.add(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not wrong, "\n".join(sorted(wrong))


def test_fixtures_are_defined_in_conftest_or_test_modules_and_never_imported() -> None:
    modules = sources()
    defined = {name: fixtures(tree) for name, (_, tree) in modules.items()}
    wrong = []
    for name, (path, tree) in modules.items():
        where = path.relative_to(ROOT)
        if path.name != "conftest.py" and not is_test_module(name):
            wrong.extend(f"{where}: fixture {f} outside a conftest.py" for f in defined[name])
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in node.targets
            ):
                wrong.append(f"{where}:{node.lineno} loads fixtures through pytest_plugins")
        for line, module, imported in imports(name, path, tree):
            if imported is not None and imported in defined.get(module, set()):
                wrong.append(f"{where}:{line} imports the fixture {imported} from {module}")
    assert not wrong, "\n".join(wrong)


def test_every_folder_of_tests_is_a_package() -> None:
    """Test modules in different folders may then share a basename."""
    folders = {path.parent for path in TESTS.rglob("*.py") if ".venv" not in path.parts}
    missing = [
        str(f.relative_to(ROOT)) for f in sorted(folders) if not (f / "__init__.py").exists()
    ]
    assert not missing, missing
