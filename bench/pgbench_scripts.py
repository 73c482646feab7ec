"""pgbench scripts built from the service's own named queries (sql/queries/*.sql).

Each `$n` of a query is replaced by the pgbench expression the benchmark gives for it, so the
baseline runs exactly the statements the service runs, in the same transaction, with prepared
statements (`-M prepared`, as asyncpg does). Run `python bench/pgbench_scripts.py` to print them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from campaign.core.db import Q

_PARAM = re.compile(r"\$(\d+)\b")


def bind(name: str, params: dict[int, str], end: str = ";") -> str:
    """The named query with its parameters replaced by pgbench expressions, then `end`.

    Every parameter the query uses must be given; given ones it does not use are ignored (the
    queries grow columns: see OPTIONAL)."""
    sql = "\n".join(line for line in Q[name].splitlines() if not line.lstrip().startswith("--"))
    used = {int(n) for n in _PARAM.findall(sql)}
    if not used <= set(params):
        raise ValueError(f"{name}: parameters {sorted(used)}, given {sorted(params)}")
    return _PARAM.sub(lambda m: params[int(m.group(1))], sql) + end


# Unique per client and draw; the salt is 16 bytes, its hash unique like the service's tokens.
# The address's domain is one of 2,000 town halls', as in bench/wrk/sign.lua.
DOMAIN = "('mairie-' || (:r::bigint % 2000)::text || '.bench-test.fr')"
EMAIL = f"('pgb-' || :client_id::text || '-' || :r::text || '@' || {DOMAIN})"
SALT = "decode(md5(:client_id::text || '-' || :r::text), 'hex')"
CLIENT = "('10.' || (:r::bigint % 256)::text || '.' || (:r::bigint / 256 % 256)::text || '.1')"

# Parameters of sign_new after the first 14, when the working tree's version has them
# (consent wording version, suspect flag, reasons: campaign/signing/abuse.py, campaign/letter/consent.py;
# withdrawal link's salt and hash: campaign/signing/withdrawal.py).
WITHDRAW_SALT = "decode(md5('w-' || :client_id::text || '-' || :r::text), 'hex')"
OPTIONAL = {
    15: "1",
    16: "false",
    17: "'{}'::text[]",
    18: WITHDRAW_SALT,
    19: f"sha256({WITHDRAW_SALT})",
}


def _abuse_shards(campaign_id: int) -> str:
    from common import SECRET_KEY

    from campaign.signing import abuse

    shards = abuse._campaign_shards(SECRET_KEY, campaign_id)
    return "ARRAY[" + ", ".join(f"'\\x{s.hex()}'::bytea" for s in shards) + "]"


def has_limits() -> bool:
    """The signing also counts itself against the anti-abuse limits (campaign/signing/abuse.py)."""
    return "abuse_assess" in Q


def sign_script(
    campaign_id: int, letter_version: int, territory_code: str = "69123", *, limits: bool = False
) -> str:
    """What `signatures.sign` runs for a new address (the rush's case): `sign_new`, one statement,
    preceded with `limits` by `abuse_assess` (one statement too), as the API does."""
    lines = [
        "-- Signing (campaign.signatures.sign, new address): bench/pgbench_scripts.py",
        r"\set r random(1, 1000000000000)",
    ]
    if limits:
        keys = ", ".join(
            # chr(58) is ':' (pgbench would read `:network` in a literal as a variable)
            f"sha256(('limit' || chr(58) || '{kind}' || chr(58) || {value})::bytea)"
            for kind, value in (
                ("network", CLIENT),
                ("domain", DOMAIN),
                ("email", EMAIL),
            )
        )
        shards = _abuse_shards(campaign_id)
        keys += f", ({shards})[1 + :r::bigint % 16]"  # one shard at random, as the service does
        lines.append(
            bind(
                "abuse_assess",
                {
                    1: "ARRAY['network', 'domain', 'email', 'campaign']",
                    2: f"ARRAY[{keys}]",
                    3: shards,
                    4: EMAIL,
                    5: DOMAIN,
                    6: CLIENT,
                },
            )
        )
    lines.append(
        bind(
            "sign_new",
            {
                1: str(campaign_id),
                2: EMAIL,
                3: "'Anne'",
                4: "'Martin'",
                5: "'maire'",
                6: "'commune'",
                7: f"'{territory_code}'",
                8: "true",
                9: "NULL",
                10: "NULL",
                11: str(letter_version),
                12: SALT,
                13: f"sha256({SALT})",
                14: "7",
                **OPTIONAL,
            },
        )
    )
    return "\n".join([*lines, ""])


def confirm_script() -> str:
    """What `signatures.confirm` runs for a pending signature: `confirm_by_token`, one statement
    (find, confirm, count).

    Each transaction takes the next prepared token from `bench_confirm` (filled by the benchmark
    with the hashes of pending signatures' tokens): the one extra index lookup the service does
    not do, inside the statement, so no extra round trip.
    """
    next_hash = (
        "(SELECT token_hash FROM bench_confirm WHERE n = (SELECT nextval('bench_confirm_seq')))"
    )
    return "\n".join(
        [
            "-- Confirming (campaign.signatures.confirm): bench/pgbench_scripts.py",
            bind("confirm_by_token", {1: next_hash}),
            "",
        ]
    )


if __name__ == "__main__":
    print(sign_script(1, 1, limits=has_limits()))
    print(confirm_script())
