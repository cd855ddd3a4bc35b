import asyncio
import gc
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI

from app import front
from app.alerts.crypto import SecretBox
from app.alerts.router import router as alerts_router
from app.audit.router import router as audit_router
from app.auth.cache import VerifiedKeys
from app.auth.gate import FailedKeyChecks, Gate
from app.chains.router import router as chains_router
from app.claims import embeddings
from app.claims.router import router as claims_router
from app.collisions import RetryCollisions
from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.denials.router import router as denials_router
from app.derived.documents import AnswerKept, DerivedDocuments
from app.errors import install_handlers
from app.evidence.router import router as evidence_router
from app.evidence.store import open_store
from app.health import router as health_router
from app.input_guard import BodyGuard, RequestLineGuard
from app.intake.router import router as intake_router
from app.keys.router import router as keys_router
from app.limits import BodySizeLimit, CancelOnDisconnect, UnknownRoutes
from app.logs import log_request
from app.metrics import HttpMetrics
from app.metrics import router as metrics_router
from app.network.router import router as network_router
from app.observing import ObserveRequests
from app.openapi import document_problems
from app.outbox.payloads import registered, webhook_body
from app.outlets.router import router as outlets_router
from app.ratelimit import counter_for
from app.recording.router import router as sightings_router
from app.request_ids import RequestIdMiddleware
from app.ui import router as ui
from app.url_info import service as url_info
from app.url_info.router import router as url_info_router
from app.worker import background

DESCRIPTION = """Tracer records how a claim travels between outlets: who carried it, whom they
took it from, and whether an official body has denied it.
Authenticate with `Authorization: Bearer <key>`."""


def _document_webhooks(app: FastAPI) -> None:
    """List every event's payload under the OpenAPI document's `webhooks`."""
    for payload in registered():
        body_model = webhook_body(payload)

        def receive(body: body_model) -> None:  # type: ignore[valid-type]
            """Sent as a signed POST (Standard Webhooks) to each URL subscribed to it."""

        app.webhooks.post(payload.event_type.value, summary=payload.event_type.value)(receive)


@contextmanager
def _collector_tuned() -> Iterator[None]:
    """The garbage collector set for a server holding a large answer's objects at a time.

    Everything loaded at startup (the framework, the schemas, the matching model) lives as long
    as the process: frozen, it is left out of every sweep. A large chain makes millions of
    short-lived objects: collecting the youngest generation every 50,000 allocations rather
    than every 700 sweeps them far less often, for a few MB more between sweeps.
    """
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedder = embeddings.configure(
            model_path=settings.embedding_model_path, threads=settings.embedding_threads
        )
        await asyncio.to_thread(embedder.warm)
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.derived = DerivedDocuments(
            engine=engine,
            max_bytes=settings.document_cache_bytes,
            max_document_bytes=settings.document_cache_max_bytes,
        )
        app.state.secret_box = SecretBox(settings)
        app.state.page_fetcher = url_info.page_fetcher(settings)
        app.state.evidence_store = open_store(settings.evidence_store)
        try:
            async with background(
                settings=settings,
                sessionmaker=app.state.sessionmaker,
                box=app.state.secret_box,
                work=settings.dispatch_in_app,
                index=settings.index_in_app,
                slow_work_apart=True,
            ) as wakeup:
                app.state.wakeup = wakeup
                with _collector_tuned():
                    yield
        finally:
            await app.state.page_fetcher.aclose()
            await app.state.derived.close()
            await engine.dispose()

    # /docs and /redoc are served by app.front, from the package's own copies of their scripts.
    app = FastAPI(
        title="Tracer",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.metrics = HttpMetrics()
    app.state.heavy_reads = asyncio.Semaphore(settings.heavy_reads)
    # One count per process for keys' rate limits and failed key checks, shared by the API's
    # gate and the sign-in page.
    app.state.counter = counter_for(settings.dialect)
    app.state.failed_key_checks = FailedKeyChecks(
        counter=app.state.counter, limit=settings.auth_failure_limit
    )
    app.state.verified_keys = VerifiedKeys(seconds=settings.key_cache_seconds)
    install_handlers(app)
    document_problems(app)
    # Outermost last: the log and the metrics see everything; the request line is checked
    # before the key is; the key and its rate limit, a kept document (app.derived) and whether
    # any route serves the path, all before the body is read; the body's text after its size;
    # a request whose transaction collided with another's is run again, innermost.
    app.add_middleware(
        RetryCollisions, retry_after_seconds=settings.unavailable_retry_after_seconds
    )
    app.add_middleware(BodyGuard)
    app.add_middleware(CancelOnDisconnect)
    app.add_middleware(BodySizeLimit, read_timeout=settings.body_read_timeout_seconds)
    app.add_middleware(UnknownRoutes, routes=app.router.routes)
    app.add_middleware(AnswerKept)
    app.add_middleware(
        Gate,
        settings=settings,
        counter=app.state.counter,
        failures=app.state.failed_key_checks,
        keys=app.state.verified_keys,
    )
    app.add_middleware(RequestLineGuard)
    app.add_middleware(ObserveRequests, observers=[log_request, app.state.metrics.observe])
    app.add_middleware(RequestIdMiddleware)
    for router in (
        health_router,
        metrics_router,
        keys_router,
        outlets_router,
        claims_router,
        sightings_router,
        evidence_router,
        chains_router,
        network_router,
        denials_router,
        intake_router,
        alerts_router,
        audit_router,
        url_info_router,
    ):
        app.include_router(router)
    _document_webhooks(app)
    ui.install(app)
    front.install(app)
    return app
