"""A public (https) site does not start with the `.localhost` placeholder addresses: signers
would write to nobody and the legal notice would name no one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from campaign.core.settings import (
    Settings,
    SettingsError,
    check_production,
    is_production,
    load_settings,
)

PUBLIC = "https://lettre.jouer-collectif.fr"
REAL = {
    "MAIL_FROM": "Jouer collectif <lettre@jouer-collectif.fr>",
    "PUBLISHER_EMAIL": "donnees@jouer-collectif.fr",
}


def _settings(tmp_path: Path, **env: str) -> Settings:
    return load_settings({"DATA_DIR": str(tmp_path), "SECRET_KEY": "x" * 40, **env})


def test_production_is_https_on_a_public_host(tmp_path: Path) -> None:
    assert is_production(_settings(tmp_path, BASE_URL=PUBLIC))
    for local in ("http://127.0.0.1:8000", "https://localhost", "https://lettre.localhost"):
        assert not is_production(_settings(tmp_path, BASE_URL=local))
    assert not is_production(_settings(tmp_path, BASE_URL="http://lettre.fr"))


def test_the_check_names_the_variables_to_set(tmp_path: Path) -> None:
    check_production(_settings(tmp_path))  # development: fine
    with pytest.raises(SettingsError) as refused:
        check_production(_settings(tmp_path, BASE_URL=PUBLIC))
    message = str(refused.value)
    assert message.startswith("Démarrage refusé")
    assert "MAIL_FROM" in message and "PUBLISHER_EMAIL" in message
    with pytest.raises(SettingsError, match="PUBLISHER_EMAIL vaut encore"):
        check_production(_settings(tmp_path, BASE_URL=PUBLIC, MAIL_FROM=REAL["MAIL_FROM"]))
    check_production(_settings(tmp_path, BASE_URL=PUBLIC, **REAL))


def test_create_app_refuses_the_placeholder_in_production(tmp_path: Path) -> None:
    from campaign.app import create_app

    with pytest.raises(SettingsError):
        create_app(_settings(tmp_path, BASE_URL=PUBLIC))
    assert create_app(_settings(tmp_path, BASE_URL=PUBLIC, **REAL))


def test_serve_refuses_to_start_with_a_french_message(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAIL_FROM", "PUBLISHER_EMAIL", "DATABASE_URL", "SMTP_URL")
    }
    env.update(BASE_URL=PUBLIC, DATA_DIR=str(tmp_path), SECRET_KEY="x" * 40)
    done = subprocess.run(
        [sys.executable, "-m", "campaign", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "campaign serve : Démarrage refusé" in done.stderr
    assert "MAIL_FROM et PUBLISHER_EMAIL" in done.stderr
