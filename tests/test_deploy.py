"""The production front (docker-compose.yml, deploy/nginx.conf): every request goes through it,
it times out slow clients, and the app trusts X-Forwarded-For from it alone."""

from __future__ import annotations

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
NGINX = (ROOT / "deploy" / "nginx.conf").read_text()


def test_the_app_is_reached_only_through_the_front() -> None:
    services = COMPOSE["services"]
    assert "ports" not in services["app"] and "ports" not in services["worker"]
    front = services["front"]
    assert any(str(p).endswith(":80") for p in front["ports"])
    assert "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro" in front["volumes"]


def test_the_app_trusts_the_fronts_address_only() -> None:
    services = COMPOSE["services"]
    trusted = services["app"]["environment"]["TRUSTED_PROXIES"]
    front_address = services["front"]["networks"]["default"]["ipv4_address"]
    assert trusted == front_address  # one address, not the whole network
    subnet = COMPOSE["networks"]["default"]["ipam"]["config"][0]["subnet"]
    assert ipaddress.ip_address(front_address) in ipaddress.ip_network(subnet)


def test_the_front_times_out_slow_clients_compresses_and_forwards_the_client() -> None:
    for directive in ("client_header_timeout", "client_body_timeout", "send_timeout"):
        match = re.search(rf"^\s*{directive} (\d+)s;", NGINX, re.M)
        assert match and int(match.group(1)) <= 30, directive
    assert re.search(r"^\s*gzip on;", NGINX, re.M)
    assert re.search(r"^\s*proxy_buffering on;", NGINX, re.M)
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in NGINX
    assert "server app:8000;" in NGINX


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    # `app` resolves inside compose only: the same file, pointed at loopback.
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX.replace("server app:8000;", "server 127.0.0.1:8000;"))
    result = subprocess.run(
        ["nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
