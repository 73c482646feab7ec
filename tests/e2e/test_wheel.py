"""`pip install .` gives a working service: the wheel built from this tree, installed in a fresh
venv, run from a directory that is not the checkout, migrates a database and takes a signature
with nothing but what it ships (SQL, emails, data, the demo campaign, templates).

Offline: the wheel is built by the test venv's setuptools (no build isolation), installed with
`--no-index --no-deps`, and the fresh venv sees the test venv's dependencies through a `.pth`
line (a plain path: the test venv's own `.pth` files, its editable install of this tree among
them, are not read).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import asyncpg
import httpx
import pytest

from campaign.core import migrations, resources
from campaign.core import settings as settings_module
from campaign.core.settings import default_data_dir, load_settings
from tests.support.app import dsn_for, free_port, unique_email
from tests.support.hardening import SIGN, body, wait_http

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = (
    "campaign/sql/migrations/0001_initial.sql",
    "campaign/sql/queries/signatures.sql",
    "campaign/emails/confirm/body.html",
    "campaign/data/territories.csv.gz",
    "campaign/data/officials.csv.xz",
    "campaign/data/map/france.json",
    "campaign/data/fonts/DejaVuSans.ttf",
    "campaign/letter/demo/jouer-collectif.md",
    "campaign/templates/index.html",
)
# Run by the installed interpreter: where the package and its files are found.
PROBE = """
import json, sys
import campaign
from campaign.core import resources
from campaign.core.db import Q
from campaign.core.settings import load_settings
from campaign.publication import files
settings = load_settings()
print(json.dumps({
    "module": campaign.__file__,
    "package": str(resources.PACKAGE),
    "path": sys.path,
    "queries": len(Q),
    "glyphs": len(files._covered()),
    "png": files.map_png('<svg xmlns="http://www.w3.org/2000/svg" width="8"/>')[:4].hex(),
    "data_dir": str(settings.data_dir),
    "campaigns_dir": str(settings.campaigns_dir),
}))
"""


def _run(*args: str | Path, **kwargs: object) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [str(a) for a in args],
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
            **kwargs,
        )
    except subprocess.CalledProcessError as exc:
        raise AssertionError(f"{args} failed:\n{exc.stdout}\n{exc.stderr}") from None


def _build_wheel(tmp: Path) -> Path:
    """The wheel of this tree, built from a copy (a build writes build/ and *.egg-info beside its
    sources) by the test venv's setuptools."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "campaign", src / "campaign", ignore=ignore)
    dist = tmp / "dist"
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--quiet", "--wheel-dir", dist, src)  # fmt: skip
    [wheel] = dist.glob("campaign-*.whl")
    return wheel


def _fresh_venv(tmp: Path, wheel: Path) -> Path:
    """A venv holding only the wheel; the dependencies are the test venv's, by path."""
    venv = tmp / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--quiet", wheel)  # fmt: skip
    purelib = _run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()
    lines = dict.fromkeys([ours["purelib"], ours["platlib"]])
    (Path(purelib.stdout.strip()) / "test-venv-dependencies.pth").write_text(
        "\n".join(lines) + "\n"
    )
    return venv


def test_defaults_in_a_checkout_and_installed(tmp_path: Path, monkeypatch) -> None:
    settings = load_settings({"SECRET_KEY": "k"})
    assert settings.data_dir == ROOT / ".data"  # `make run`
    assert settings.campaigns_dir == resources.DEMO_CAMPAIGNS
    assert Path(str(settings.campaigns_dir), "jouer-collectif.md").is_file()
    monkeypatch.setattr(settings_module, "source_checkout", lambda: None)  # as from a wheel
    assert default_data_dir({"XDG_DATA_HOME": str(tmp_path)}) == tmp_path / "campaign"
    home = Path.home() / ".local" / "share" / "campaign"
    assert default_data_dir({}) == home
    assert default_data_dir({"XDG_DATA_HOME": "relative/ignored"}) == home  # as the spec says


@pytest.mark.slow
async def test_the_wheel_installed_in_a_fresh_venv_migrates_and_takes_a_signature(
    pg_server: str, tmp_path: Path
) -> None:
    wheel = await asyncio.to_thread(_build_wheel, tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert [name for name in SHIPPED if name not in names] == []
    venv = await asyncio.to_thread(_fresh_venv, tmp_path, wheel)
    campaign = venv / "bin" / "campaign"

    # The installed defaults: no DATA_DIR, SECRET_KEY or CAMPAIGNS_DIR, nothing of the checkout.
    unset = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "DATA_DIR", "SECRET_KEY", "CAMPAIGNS_DIR")
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    work = tmp_path / "work"  # the current directory: neither the checkout nor the venv
    work.mkdir()

    probe = await asyncio.to_thread(
        _run, venv / "bin" / "python", "-I", "-c", PROBE, cwd=work, env=env
    )
    found = json.loads(probe.stdout)
    package = venv.resolve() / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert Path(found["module"]).resolve().is_relative_to(package), found["module"]
    assert Path(found["package"]).resolve().is_relative_to(package), found["package"]
    assert str(ROOT) not in [str(Path(p or ".").resolve()) for p in found["path"]]
    assert found["queries"] > 100
    assert found["glyphs"] > 1000  # the vendored fonts, as files for fontTools
    assert found["png"] == "89504e47"  # resvg drew with them
    assert found["data_dir"] == str(tmp_path / "xdg" / "campaign")
    assert Path(found["campaigns_dir"]).resolve().is_relative_to(package)

    admin = await asyncpg.connect(pg_server)
    await admin.execute('CREATE DATABASE "wheel_install"')
    dsn = dsn_for(pg_server, "wheel_install")
    env["DATABASE_URL"] = dsn
    proc = None
    log = (tmp_path / "serve.log").open("wb")
    db = await asyncpg.connect(dsn)
    try:
        migrated = await asyncio.to_thread(_run, campaign, "migrate", cwd=work, env=env)
        for _, name, _ in migrations.migration_files():
            assert name in migrated.stdout, migrated.stdout
        assert (tmp_path / "xdg" / "campaign" / "secret_key").is_file()  # the dev key's home

        # serve with its mail worker and the embedded mail sink: the confirmation is rendered
        # from the packaged emails and sent.
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = subprocess.Popen(
            [str(campaign), "serve"],
            cwd=work,
            env={**env, "PORT": str(port), "BASE_URL": base},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            await wait_http(base, "/ready", timeout=60)
        except TimeoutError:
            raise AssertionError((tmp_path / "serve.log").read_text(errors="replace")) from None
        address = unique_email("roue")
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            assert (await client.get("/")).status_code == 200  # templates, map, counts
            answer = await client.post(SIGN, json=body(address))
            assert answer.status_code == 202, answer.text
        for _ in range(200):
            status = await db.fetchval(
                "SELECT o.status FROM outbox o JOIN signatures s ON s.id = o.signature_id"
                " WHERE s.email = $1",
                address,
            )
            if status == "sent":
                break
            await asyncio.sleep(0.1)
        assert status == "sent", (tmp_path / "serve.log").read_text(errors="replace")
        # A clean stop: uvicorn re-raises the SIGTERM it handled once shutdown is complete.
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(proc.wait, 30) in (0, -signal.SIGTERM)
        assert "Application shutdown complete" in (tmp_path / "serve.log").read_text()
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(10)
        log.close()
        await db.close()
        await admin.execute('DROP DATABASE "wheel_install" WITH (FORCE)')
        await admin.close()
