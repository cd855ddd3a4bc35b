"""One JSON object per log line, each carrying the id of the request it belongs to
(app.request_ids). Log lines name the method, path, status and time of a request; never its
headers, query or body, which is where keys and secrets travel.
"""

import logging
import time
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonEncoder, JsonFormatter
from starlette.types import Scope

from app.request_ids import current_request_id

access = logging.getLogger("tracer.access")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class JsonLines(JsonFormatter):
    """Each record as one JSON object: time, level, logger, message, request id, then the
    record's extra fields.

    A plain message without a traceback, as every request's access line is, is written out
    here rather than through the library's general path, in a third of its time; the same
    line either way.
    """

    _SKIPPED = frozenset([*RESERVED_ATTRS, "request_id"])

    def __init__(self) -> None:
        super().__init__(
            "{asctime}{levelname}{name}{message}{request_id}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
        self._encoder = JsonEncoder()
        # The date and time to the second, formatted once for every line in that second.
        self._second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        if not isinstance(record.msg, str) or record.exc_info or record.exc_text:
            return super().format(record)
        if record.stack_info:
            return super().format(record)
        line: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": record.__dict__.get("request_id"),
        }
        for key, value in record.__dict__.items():
            if key not in self._SKIPPED and not key.startswith("_"):
                line[key] = value
        return self._encoder.encode(line)

    def _time(self, record: logging.LogRecord) -> str:
        second, stamp = self._second
        if int(record.created) != second:
            second = int(record.created)
            stamp = time.strftime(self.default_time_format, self.converter(record.created))
            self._second = (second, stamp)
        return f"{stamp},{int(record.msecs):03d}"


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on standard error for the service's and the server's loggers."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
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
