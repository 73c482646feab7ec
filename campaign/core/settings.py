"""Configuration, read from the environment once (see the README's table).

Defaults that are files: the campaigns come from the demo campaign shipped in the package
(campaign/letter/demo) unless CAMPAIGNS_DIR names a folder. The data folder (DATA_DIR: the
embedded PostgreSQL, the dev secret key) is `.data` at the root of the source checkout when the
package runs from one (`make run`, `pip install -e .`); installed from a wheel, it is the user's
`$XDG_DATA_HOME/campaign` (`~/.local/share/campaign`), the same whatever the current directory,
so that the dev database and the links signed with the dev key survive a `cd`.
"""

from __future__ import annotations

import os
import secrets
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from campaign.core import resources

PLACEHOLDER_DOMAIN = ".localhost"
"""The domain of the development defaults: never an address a real person can write to."""
PLACEHOLDER_EMAIL = "contact@jouer-collectif.localhost"


class SettingsError(ValueError):
    """Settings the service refuses to start with; the message (French) names what to set."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    database_url: str | None
    """postgresql:// URL; None starts the embedded PostgreSQL under `data_dir`."""
    smtp_url: str | None
    """smtp://user:pass@host:port (smtps:// for TLS); None starts the embedded mail sink."""
    mail_from: str
    base_url: str
    """Public URL used in emails, never derived from the Host header."""
    secret_key: str
    host: str
    port: int
    data_dir: Path
    """Embedded PostgreSQL data, the dev secret key (default: see `default_data_dir`)."""
    campaigns_dir: Traversable
    """Campaign definitions created on first start (default: the packaged demo campaign)."""
    token_ttl_days: int
    mail_retry_base_seconds: float
    mail_max_attempts: int
    mail_poll_seconds: float
    sse_keepalive_seconds: float
    """A comment line on idle event streams, so proxies do not close them."""
    unconfirmed_days: int
    """Days after which an unconfirmed signature is deleted (privacy notice)."""
    retention_months: int
    """Months after the campaign closes before signatures are anonymised (privacy notice)."""
    allowed_hosts: tuple[str, ...] = ()
    """Host names the site answers to besides BASE_URL's host and loopback (`*.domain` allowed)."""
    db_command_timeout: float = 10.0
    """Seconds a query may take before it is cancelled (and the request answered 503)."""
    db_acquire_timeout: float = 5.0
    """Seconds a request waits for a free database connection (and to connect) before a 503."""
    mail_lease_seconds: float = 120.0
    """How long a claimed message stays reserved to its worker (a dead worker's come back after)."""
    mail_auth_retry_seconds: float = 600.0
    """Retry delay while the SMTP relay refuses our credentials (535): kept, never failed."""
    mail_rush_above: float = 500.0
    """Messages queued per second above which a worker yields to the signings (a rush)."""
    mail_rush_rate: float = 100.0
    """Messages per second a worker sends at most during a rush (0: as fast as it can)."""
    trusted_proxies: str = ""
    """Addresses or networks (comma-separated) of the proxies whose X-Forwarded-For is read."""
    sign_limit_network: int = 30
    """Signatures per hour from one client network (/24, /56) before flagging (0: no limit)."""
    sign_limit_domain: int = 50
    """Signatures per hour from one email domain (big mail providers excepted; 0: no limit)."""
    sign_limit_resends: int = 3
    """Re-submissions of one address per hour before flagging and sending nothing (0: none)."""
    sign_limit_campaign: int = 2000
    """Signatures per hour on a campaign before every further one is flagged (0: no limit)."""
    form_min_seconds: float = 3.0
    """Minimum time between showing the form and posting it; faster is flagged (0: no check)."""
    limits_keep_days: int = 7
    """Days the limits' counters (keyed hashes of networks, domains, addresses) are kept."""
    publisher_name: str = "Collectif « Jouer collectif »"
    """Who publishes the site and controls the data (legal notice, privacy page)."""
    publisher_address: str = ""
    """The publisher's postal address (legal notice, privacy page)."""
    publisher_email: str = PLACEHOLDER_EMAIL
    """The address signers write to about their data (legal notice, privacy page)."""
    hosting_provider: str = ""
    """The host of the site: name, address, telephone (legal notice)."""
    webhook_timeout_seconds: float = 10.0
    """Seconds a webhook receiver has to answer before the delivery is retried."""
    webhook_max_attempts: int = 10
    """Attempts of a webhook delivery before it is marked failed."""
    webhook_retry_base_seconds: float = 30.0
    """First retry delay of a webhook delivery, doubled at each attempt (at most an hour)."""
    webhook_allow_local: bool = False
    """Accept http://127.0.0.1 and localhost as webhook endpoints (tests, development only)."""
    sse_max_per_network: int = 200
    """Live streams one client network (/24, /56) may hold in a process (0: no limit)."""
    sse_max_streams: int = 8000
    """Live streams a process holds at most; further ones get 503 and poll (0: no limit)."""
    sse_idle_seconds: float = 900.0
    """A live stream that carried no count for this long is closed (the browser reconnects)."""
    search_min_chars: int = 3
    """Letters a public search of the signatories needs at least."""
    search_rate_per_minute: int = 60
    """Public searches per minute from one client network before a 429 (0: no limit)."""
    db_pool_size: int = 10
    """Database connections of a process's pool for the pages and the API."""
    max_connections: int = 0
    """Connections and requests one process takes before answering 503 (0: from the open-files
    limit)."""
    mail_smtp_pool: int = 16
    """SMTP connections a mail worker keeps open between messages (0: one per message)."""
    mail_recipient_daily_cap: int = 10
    """Emails of any kind one address may receive per day (0: no cap)."""
    reminder_after_hours: float = 48.0
    """Hours after which a still-pending signature gets one reminder (0: no reminder)."""
    mairie_attestations_per_hour: int = 100
    """Attestation emails to town halls per hour, across the campaign (0: none sent)."""


def _secret_key(data_dir: Path) -> str:
    """The dev secret: generated once, kept in the data folder so links survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def source_checkout() -> Path | None:
    """The root of the source checkout the package is imported from, if it is (not a wheel)."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else None


def default_data_dir(env: dict[str, str]) -> Path:
    """`.data` in the source checkout (ignored by git); installed, the user's data folder
    (XDG base directories: `$XDG_DATA_HOME/campaign`, else `~/.local/share/campaign`)."""
    checkout = source_checkout()
    if checkout is not None:
        return checkout / ".data"
    xdg = env.get("XDG_DATA_HOME") or ""
    base = Path(xdg) if os.path.isabs(xdg) else Path.home() / ".local" / "share"
    return base / "campaign"


def load_settings(env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ if env is None else env)
    data_dir = Path(env["DATA_DIR"]) if env.get("DATA_DIR") else default_data_dir(env)
    host = env.get("HOST") or "127.0.0.1"
    port = int(env.get("PORT") or 8000)
    return Settings(
        database_url=env.get("DATABASE_URL") or None,
        smtp_url=env.get("SMTP_URL") or None,
        mail_from=env.get("MAIL_FROM") or "Jouer collectif <lettre@jouer-collectif.localhost>",
        base_url=(env.get("BASE_URL") or f"http://{host}:{port}").rstrip("/"),
        secret_key=env.get("SECRET_KEY") or _secret_key(data_dir),
        host=host,
        port=port,
        data_dir=data_dir,
        campaigns_dir=(
            Path(env["CAMPAIGNS_DIR"]) if env.get("CAMPAIGNS_DIR") else resources.DEMO_CAMPAIGNS
        ),
        token_ttl_days=int(env.get("TOKEN_TTL_DAYS") or 7),
        mail_retry_base_seconds=float(env.get("MAIL_RETRY_BASE_SECONDS") or 30),
        mail_max_attempts=int(env.get("MAIL_MAX_ATTEMPTS") or 8),
        mail_poll_seconds=float(env.get("MAIL_POLL_SECONDS") or 5),
        sse_keepalive_seconds=float(env.get("SSE_KEEPALIVE_SECONDS") or 15),
        unconfirmed_days=int(env.get("UNCONFIRMED_DAYS") or 30),
        retention_months=int(env.get("RETENTION_MONTHS") or 6),
        allowed_hosts=tuple(
            h.strip() for h in (env.get("ALLOWED_HOSTS") or "").split(",") if h.strip()
        ),
        db_command_timeout=float(env.get("DB_COMMAND_TIMEOUT") or 10),
        db_acquire_timeout=float(env.get("DB_ACQUIRE_TIMEOUT") or 5),
        mail_lease_seconds=float(env.get("MAIL_LEASE_SECONDS") or 120),
        mail_auth_retry_seconds=float(env.get("MAIL_AUTH_RETRY_SECONDS") or 600),
        mail_rush_above=float(env.get("MAIL_RUSH_ABOVE") or 500),
        mail_rush_rate=float(env.get("MAIL_RUSH_RATE") or 100),
        trusted_proxies=env.get("TRUSTED_PROXIES") or "",
        sign_limit_network=int(env.get("SIGN_LIMIT_NETWORK") or 30),
        sign_limit_domain=int(env.get("SIGN_LIMIT_DOMAIN") or 50),
        sign_limit_resends=int(env.get("SIGN_LIMIT_RESENDS") or 3),
        sign_limit_campaign=int(env.get("SIGN_LIMIT_CAMPAIGN") or 2000),
        form_min_seconds=float(env.get("FORM_MIN_SECONDS") or 3),
        limits_keep_days=int(env.get("LIMITS_KEEP_DAYS") or 7),
        publisher_name=env.get("PUBLISHER_NAME") or "Collectif « Jouer collectif »",
        publisher_address=env.get("PUBLISHER_ADDRESS") or "",
        publisher_email=env.get("PUBLISHER_EMAIL") or PLACEHOLDER_EMAIL,
        hosting_provider=env.get("HOSTING_PROVIDER") or "",
        webhook_timeout_seconds=float(env.get("WEBHOOK_TIMEOUT_SECONDS") or 10),
        webhook_max_attempts=int(env.get("WEBHOOK_MAX_ATTEMPTS") or 10),
        webhook_retry_base_seconds=float(env.get("WEBHOOK_RETRY_BASE_SECONDS") or 30),
        webhook_allow_local=(env.get("WEBHOOK_ALLOW_LOCAL") or "").lower() in ("1", "true", "yes"),
        sse_max_per_network=int(env.get("SSE_MAX_PER_NETWORK") or 200),
        sse_max_streams=int(env.get("SSE_MAX_STREAMS") or 8000),
        sse_idle_seconds=float(env.get("SSE_IDLE_SECONDS") or 900),
        search_min_chars=int(env.get("SEARCH_MIN_CHARS") or 3),
        search_rate_per_minute=int(env.get("SEARCH_RATE_PER_MINUTE") or 60),
        db_pool_size=int(env.get("DB_POOL_SIZE") or 10),
        max_connections=int(env.get("MAX_CONNECTIONS") or 0),
        mail_smtp_pool=int(env.get("MAIL_SMTP_POOL") or 16),
        mail_recipient_daily_cap=int(env.get("MAIL_RECIPIENT_DAILY_CAP") or 10),
        reminder_after_hours=float(env.get("REMINDER_AFTER_HOURS") or 48),
        mairie_attestations_per_hour=int(env.get("MAIRIE_ATTESTATIONS_PER_HOUR") or 100),
    )


def is_production(settings: Settings) -> bool:
    """Production: the public URL is https:// on a host other than loopback or *.localhost."""
    url = urlsplit(settings.base_url)
    host = (url.hostname or "").lower()
    local = host in ("localhost", "::1") or host.startswith("127.") or host.endswith(".localhost")
    return url.scheme == "https" and not local


def placeholder_variables(settings: Settings) -> list[str]:
    """The variables still at a `.localhost` placeholder (the sender, the publisher's contact)."""
    found = []
    for name, value in (
        ("MAIL_FROM", settings.mail_from),
        ("PUBLISHER_EMAIL", settings.publisher_email),
    ):
        if PLACEHOLDER_DOMAIN in value.lower().rstrip(">"):
            found.append(name)
    return found


def check_production(settings: Settings) -> None:
    """Refuse to serve the public (https) with a placeholder address: signers would write to
    nobody and the legal notice would name no one."""
    missing = placeholder_variables(settings) if is_production(settings) else []
    if missing:
        raise SettingsError(
            f"Démarrage refusé : BASE_URL ({settings.base_url}) est une adresse publique, mais "
            f"{' et '.join(missing)} {'valent' if len(missing) > 1 else 'vaut'} encore "
            f"l’adresse d’exemple en « {PLACEHOLDER_DOMAIN} ». Définissez "
            f"{', '.join(missing)} (et PUBLISHER_NAME, PUBLISHER_ADDRESS) avec les coordonnées "
            "réelles de l’éditeur du site."
        )
