"""One JSON object per log line, each carrying the id of the request it belongs to
(app.request_ids). Log lines name the method, path, status and time of a request; never its
headers, query or body, which is where keys and secrets travel.
"""

import logging

from pythonjsonlogger.json import JsonFormatter
from starlette.types import Scope

from app.request_ids import current_request_id

access = logging.getLogger("tracer.access")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on standard error for the service's and the server's loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_RequestIdFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Our access line carries the request id; uvicorn's own would repeat it without.
    logging.getLogger("uvicorn.access").disabled = True


def log_request(scope: Scope, status: int, seconds: float) -> None:
    """The access line of one answered request (see app.observing)."""
    access.info(
        "request",
        extra={
            "method": scope["method"],
            "path": scope["path"],
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
        },
    )
