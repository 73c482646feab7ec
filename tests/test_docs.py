"""The manual keeps up with the code: every setting and command is documented, every link leads.

No database, no network: the settings' variables are read from the loader's source, the commands
from the CLI's parser, the links from the Markdown files.
"""

from __future__ import annotations

import argparse
import ast
import re
import unicodedata
from pathlib import Path

import pytest

from campaign import cli
from campaign.core import settings

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINKED_FILES = [*PAGES, ROOT / "README.md"]


def _env_names() -> set[str]:
    """Every `env.get("NAME")` / `env["NAME"]` (or `os.environ`, `os.getenv`) in the settings."""
    tree = ast.parse(Path(settings.__file__).read_text(encoding="utf-8"))
    names: set[str] = set()

    def is_env(node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in {"env", "environ"}
        return isinstance(node, ast.Attribute) and node.attr == "environ"

    for node in ast.walk(tree):
        key: ast.expr | None = None
        if isinstance(node, ast.Call) and node.args and isinstance(node.func, ast.Attribute):
            getenv = node.func.attr == "getenv"
            if getenv or (node.func.attr == "get" and is_env(node.func.value)):
                key = node.args[0]
        elif isinstance(node, ast.Subscript) and is_env(node.value):
            key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            names.add(key.value)
    return names


def _commands() -> dict[str, list[str]]:
    """`campaign`'s commands, each with its own sub-commands (`mailing create`…) if it has any."""

    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    return {name: sorted(choices(sub)) for name, sub in choices(cli.build_parser()).items()}


ENV_NAMES = sorted(_env_names())
COMMANDS = _commands()


def test_the_scans_find_what_they_look_for() -> None:
    # A loader or a parser written differently must not make the two tests below pass on nothing.
    assert {"DATABASE_URL", "SMTP_URL", "SECRET_KEY", "BASE_URL"} <= set(ENV_NAMES)
    assert {"serve", "worker", "migrate"} <= set(COMMANDS)


@pytest.mark.parametrize("name", ENV_NAMES)
def test_every_setting_is_in_the_configuration_page(name: str) -> None:
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    assert f"`{name}`" in text, f"{name} is read by the settings but not in docs/configuration.md"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_is_in_the_cli_page(command: str) -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert re.search(rf"`{re.escape(command)}[` ]", text), (
        f"`campaign {command}` exists but docs/cli.md does not name it"
    )
    for action in COMMANDS[command]:
        named = re.search(
            rf"`{re.escape(action)}`|{re.escape(command)} {re.escape(action)}\b", text
        )
        assert named, f"`campaign {command} {action}` exists but docs/cli.md does not name it"


def test_every_page_is_in_the_mkdocs_nav() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    missing = [
        p.name for p in PAGES if not re.search(rf":\s*{re.escape(p.name)}\s*$", config, re.M)
    ]
    assert not missing, f"pages missing from mkdocs.yml's nav: {missing}"


_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+).+?\1", re.S)
_LINK = re.compile(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)", re.M)


def _prose(text: str) -> str:
    """The text without code blocks and code spans, where brackets are not links."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading (Python-Markdown's agrees on the headings the docs use)."""
    text = re.sub(r"[`*_]|\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    kept = "".join(c for c in text if c in " -_" or unicodedata.category(c)[0] in "LN")
    return kept.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    anchors: set[str] = set()
    for line in _FENCE.sub("", page.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            slug, n = _slug(match.group(1)), 1
            while slug in anchors:
                slug = f"{_slug(match.group(1))}-{n}"
                n += 1
            anchors.add(slug)
    return anchors


@pytest.mark.parametrize("page", LINKED_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_lead_somewhere(page: Path) -> None:
    prose = _prose(page.read_text(encoding="utf-8"))
    broken = []
    for target in _LINK.findall(prose) + _REFERENCE.findall(prose):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I) or target.startswith("//"):
            continue  # http:, https:, mailto:…: not this test's business
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target}: no heading with that anchor")
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"
