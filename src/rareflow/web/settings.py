"""Server settings: where it listens, where tenants' files live, who may call it, and limits.

Tokens come from the environment (``RAREFLOW_TOKENS="alice:secret1,bob:secret2"``) or from a
file of ``tenant: token`` lines (``--tokens-file``), never from a URL. Without tokens the server
has one tenant, ``local``, whose results store is the ``--store`` file the command line uses,
and it may only listen on a loopback address.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

TENANT = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
LOCAL = "local"
MIN_TOKEN_CHARS = 16


class SettingsError(ValueError):
    """Settings that would make the server unsafe or unusable."""


@dataclass(frozen=True)
class Limits:
    """What one request or one tenant may ask for."""

    body_bytes: int = 1_000_000
    """Largest request body (scenarios, BOMs, cascade files)."""
    runs_per_job: int = 2_000
    queued_jobs_per_tenant: int = 5
    running_jobs: int = 2
    """Jobs running at once over all tenants (each uses ``workers_per_job`` processes)."""
    workers_per_job: int = 1
    table_rows: int = 5_000


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    store: Path = Path("rareflow-results.duckdb")
    workspace: Path = Path("rareflow-workspace")
    tokens: dict[str, str] = field(default_factory=dict)
    """tenant -> token; empty: one ``local`` tenant, loopback only."""
    data: Path | None = None
    limits: Limits = field(default_factory=Limits)

    def check(self) -> None:
        """Refuse a non-loopback bind without tokens, bad tenant names and short tokens."""
        if not self.tokens and not is_loopback(self.host):
            raise SettingsError(
                f"--host {self.host} is reachable from other machines: set tokens "
                "(RAREFLOW_TOKENS=tenant:token,... or --tokens-file FILE) or bind 127.0.0.1"
            )
        for tenant, token in self.tokens.items():
            if not TENANT.match(tenant):
                raise SettingsError(
                    f"tenant name {tenant!r}: use 1-32 lower-case letters, digits, _ or -, "
                    "starting with a letter"
                )
            if len(token) < MIN_TOKEN_CHARS:
                raise SettingsError(
                    f"the token of {tenant!r} has {len(token)} characters; use at least "
                    f"{MIN_TOKEN_CHARS}, e.g. from python -c "
                    "'import secrets; print(secrets.token_hex())'"
                )
        if len(set(self.tokens.values())) != len(self.tokens):
            raise SettingsError("two tenants share a token; give each its own")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_tokens(text: str, where: str) -> dict[str, str]:
    """``tenant:token`` pairs separated by commas or new lines (``#`` starts a comment)."""
    tokens: dict[str, str] = {}
    for number, line in enumerate(re.split(r"[,\n]", text), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        tenant, sep, token = entry.partition(":")
        if not sep or not token.strip():
            raise SettingsError(f"{where}, entry {number}: expected tenant:token")
        tenant = tenant.strip()
        if tenant in tokens:
            raise SettingsError(f"{where}: tenant {tenant!r} appears twice")
        tokens[tenant] = token.strip()
    return tokens


def load_tokens(tokens_file: Path | None) -> dict[str, str]:
    """Tokens from ``--tokens-file`` or else the RAREFLOW_TOKENS environment variable."""
    if tokens_file is not None:
        try:
            text = tokens_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise SettingsError(f"cannot read --tokens-file {tokens_file}: {error}") from None
        return parse_tokens(text, str(tokens_file))
    return parse_tokens(os.environ.get("RAREFLOW_TOKENS", ""), "RAREFLOW_TOKENS")
