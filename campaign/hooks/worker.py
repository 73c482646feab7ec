"""The webhook worker: claims due deliveries, builds and signs each one, POSTs it outside any
transaction, records the outcome; retries with exponential backoff. Woken by NOTIFY on
`webhooks`, polling in case of a miss; it also announces the campaigns just published."""

from __future__ import annotations

import asyncio
import logging
import time

import asyncpg
import httpx

from campaign.core.db import log_failure
from campaign.core.settings import Settings
from campaign.core.wakeup import listening, wait_any
from campaign.hooks import addresses, deliveries, signed
from campaign.hooks.deliveries import Claimed
from campaign.hooks.endpoints import CHANNEL

log = logging.getLogger(__name__)

LISTENER_NAME = "campaign-webhooks-listener"
BATCH_SIZE = 20
POLL_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 3600.0
USER_AGENT = "JouerCollectif-Webhooks/1"


class HookWorker:
    def __init__(
        self,
        pool: asyncpg.Pool,
        dsn: str,
        settings: Settings,
        *,
        batch_size: int = BATCH_SIZE,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self._pool = pool
        self._dsn = dsn
        self._settings = settings
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        # Well above the receiver's timeout: a dead worker's deliveries come back after it.
        self._lease_seconds = 3 * settings.webhook_timeout_seconds + 30
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            trust_env=False,
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until `stop` is set."""
        try:
            async with listening(
                self._dsn, CHANNEL, stop, application_name=LISTENER_NAME, log=log, what="webhooks"
            ) as wake:
                while not stop.is_set():
                    wake.clear()
                    try:
                        await deliveries.publish_due(self._pool)
                        done = await self.run_once()
                    except Exception as exc:
                        log_failure(log, "webhooks", exc)
                        done = 0
                    if done < self._batch_size:
                        await wait_any(stop, wake, within=self._poll_seconds)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._client.aclose()

    async def run_once(self) -> int:
        """Claims one batch and sends it; returns how many deliveries were processed."""
        batch = await deliveries.claim(
            self._pool, limit=self._batch_size, lease_seconds=self._lease_seconds
        )
        results = await asyncio.gather(*(self._send(d) for d in batch), return_exceptions=True)
        for d, result in zip(batch, results, strict=True):
            if isinstance(result, BaseException):
                log.error("webhook delivery %d: not recorded (%s)", d.id, type(result).__name__)
        return len(batch)

    def _backoff(self, attempts: int) -> float:
        base = self._settings.webhook_retry_base_seconds
        return float(min(MAX_BACKOFF_SECONDS, base * 2 ** (attempts - 1)))

    async def _send(self, d: Claimed) -> None:
        if not d.active:
            await deliveries.mark_ended(self._pool, d, "dropped", None, "point d’accès désactivé")
            return
        body = await deliveries.body_of(self._pool, self._settings.base_url, d)
        if body is None:
            await deliveries.mark_ended(self._pool, d, "dropped", None, "signataire retiré")
            log.info("webhook delivery %d dropped (signature withdrawn or set aside)", d.id)
            return
        status: int | None = None
        try:
            url = await addresses.check(d.url, allow_local=addresses.local_allowed(self._settings))
            secret = signed.endpoint_secret(self._settings.secret_key, d.secret_salt)
            headers = {
                "Content-Type": "application/json",
                signed.EVENT_HEADER: d.event,
                signed.DELIVERY_HEADER: str(d.delivery_id),
                signed.SIGNATURE_HEADER: signed.signature_header(secret, int(time.time()), body),
            }
            response = await self._client.post(url, content=body, headers=headers)
            status = response.status_code
            if 200 <= status < 300:
                await deliveries.mark_delivered(self._pool, d, status)
                return
            error = f"réponse HTTP {status}"
        except addresses.AddressError as exc:
            error = str(exc)
        except httpx.TimeoutException:
            error = "délai dépassé"
        except httpx.HTTPError as exc:
            error = f"connexion impossible ({type(exc).__name__})"
        log.info("webhook delivery %d: attempt %d failed (%s)", d.id, d.attempts, status or error)
        if d.attempts >= self._settings.webhook_max_attempts:
            await deliveries.mark_ended(self._pool, d, "failed", status, error)
        else:
            await deliveries.mark_retry(self._pool, d, self._backoff(d.attempts), status, error)
