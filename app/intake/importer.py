"""`tracer import FILE`: sightings from CSV, NDJSON or ClaimReview JSON-LD, safe to run again.

Rows go through the batch machinery, so a row is recorded exactly as `POST /v1/sightings/batch`
would record it, and a row already recorded is reported as a duplicate, not stored twice.
"""

import codecs
import csv
import json
import re
from collections import ChainMap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import Principal
from app.db import utcnow
from app.enums import Scope
from app.intake import claimreview
from app.intake.batch import Plan, plan, record_item
from app.intake.schemas import ItemResult, ItemStatus
from app.recording.recorder import Recorder, recording
from app.transactions import transaction

# Rows per transaction: a crash loses at most this many rows' work, and a rerun redoes it.
CHUNK = 1000
# Characters of a file's beginning that tell its format.
SNIFFED = 65536
LIST_SEPARATOR = ";"

OUTLET_COLUMNS = {
    "outlet_name": "name",
    "outlet_kind": "kind",
    "outlet_country": "country",
    "outlet_language": "language",
    "outlet_url": "url",
    "outlet_aliases": "aliases",
    "outlet_domains": "domains",
}
CLAIM_COLUMNS = {
    "claim": "statement",
    "claim_summary": "summary",
    "claim_language": "language",
    "claim_tags": "tags",
    "claim_variant_of": "variant_of",
}
LIST_COLUMNS = {
    "cites",
    "cites_outlets",
    "cites_refs",
    "claim_tags",
    "outlet_aliases",
    "outlet_domains",
}
PLAIN_COLUMNS = {
    "claim_id",
    "outlet",
    "url",
    "published_at",
    "published_at_precision",
    "stance",
    "cites",
    "cites_outlets",
    "attribution",
    "title",
    "excerpt",
    "language",
    "archive_url",
    "content_sha256",
    "ref",
    "cites_refs",
}
CSV_COLUMNS = PLAIN_COLUMNS | OUTLET_COLUMNS.keys() | CLAIM_COLUMNS.keys()
# `outlet` may be left out where the outlets' domains name each row's outlet by its URL.
REQUIRED_COLUMNS = {"url", "published_at", "stance"}
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FileFormat(StrEnum):
    csv = "CSV"
    ndjson = "NDJSON"
    claimreview = "ClaimReview JSON-LD"


class NotImportable(Exception):
    """The file as a whole cannot be read; nothing was stored."""


@dataclass(frozen=True)
class Row:
    """One sighting to record, or the reason a part of the file gave none."""

    label: str
    item: dict[str, Any] | None
    problem: str | None = None


@dataclass
class Summary:
    file_format: FileFormat
    created: int = 0
    duplicates: int = 0
    errors: list[tuple[str, str]] = field(default_factory=list)
    stopped: str | None = None

    @property
    def complete(self) -> bool:
        return self.stopped is None and not self.errors


def _csv_item(record: dict[str, str]) -> dict[str, Any]:
    item: dict[str, Any] = {}
    outlet: dict[str, Any] = {}
    claim: dict[str, Any] = {}
    for column, raw in record.items():
        text = raw.strip()
        if not text:
            continue
        value: Any = text
        if column in LIST_COLUMNS:
            value = [part.strip() for part in text.split(LIST_SEPARATOR) if part.strip()]
        if column in OUTLET_COLUMNS:
            outlet[OUTLET_COLUMNS[column]] = value
        elif column in CLAIM_COLUMNS:
            claim[CLAIM_COLUMNS[column]] = value
        else:
            item[column] = value
    if DATE_ONLY.match(item.get("published_at", "")):
        # Sheets often hold bare dates: midnight UTC, known to the day, is what such a cell says.
        item["published_at"] += "T00:00:00Z"
        item.setdefault("published_at_precision", "day")
    if claim:
        item["claim"] = claim
    if outlet:
        # Outlet details make the row create the outlet when its slug is new.
        item["outlet"] = {"slug": item.get("outlet"), **outlet}
    return item


def _delimiter(text: str) -> str:
    """Commas, or the semicolons or tabs that spreadsheets in many locales export with."""
    header = text.split("\n", 1)[0]
    return max(",;\t", key=header.count)


def _text(path: Path) -> Any:
    return path.open(encoding="utf-8-sig", newline="")


def _read_csv(path: Path) -> Iterator[Row]:
    with _text(path) as file:
        reader = csv.DictReader(file, delimiter=_delimiter(file.readline()))
        file.seek(0)
        header = [name.strip() for name in reader.fieldnames or []]
        unknown = [name for name in header if name not in CSV_COLUMNS]
        if unknown:
            raise NotImportable(
                f"unknown column(s) {', '.join(map(repr, unknown))}; "
                f"the columns are: {', '.join(sorted(CSV_COLUMNS))}"
            )
        missing = REQUIRED_COLUMNS - set(header)
        if "claim" not in header and "claim_id" not in header:
            missing.add("claim or claim_id")
        if missing:
            raise NotImportable(f"missing column(s): {', '.join(sorted(missing))}")
        reader.fieldnames = header
        # Spreadsheet numbering: the header is row 1.
        for number, record in enumerate(reader, start=2):
            label = f"row {number}"
            if None in record or any(value is None for value in record.values()):
                yield Row(label, None, "has a different number of cells than the header")
            else:
                yield Row(label, _csv_item(record))


def _read_ndjson(path: Path) -> Iterator[Row]:
    with _text(path) as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise NotImportable(f"line {number} is not JSON ({exc})") from None
            if isinstance(value, dict):
                yield Row(f"line {number}", value)
            else:
                yield Row(f"line {number}", None, "is not a JSON object")


def _read_claimreview(document: Any) -> list[Row]:
    reviews = claimreview.claimreview_nodes(document)
    if not reviews:
        raise NotImportable("the JSON holds no schema.org ClaimReview object")
    return [
        Row(entry.row, entry.item, entry.problem)
        for number, review in enumerate(reviews, start=1)
        for entry in claimreview.entries_from_review(number, review)
    ]


def _looks_like_csv(text: str) -> bool:
    first = text.splitlines()[0] if text else ""
    header = {cell.strip() for cell in next(csv.reader([first], delimiter=_delimiter(text)), [])}
    return bool(header & REQUIRED_COLUMNS)


def _beginning(path: Path) -> str:
    """The file's first characters, once the whole file is known to be UTF-8 text; read a piece
    at a time, so a file of any size costs the same memory."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    beginning = ""
    try:
        with path.open("rb") as file:
            while piece := file.read(1 << 20):
                if b"\x00" in piece:
                    raise NotImportable("the file is binary, not CSV, NDJSON or JSON-LD")
                text = decoder.decode(piece)
                if len(beginning) < SNIFFED:
                    beginning += text[: SNIFFED - len(beginning)]
            decoder.decode(b"", final=True)
    except OSError as exc:
        raise NotImportable(f"cannot read the file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise NotImportable("the file is not UTF-8 text") from None
    return beginning


def _ndjson_lines(path: Path) -> bool:
    with _text(path) as file:
        lines = [line for line in file if line.strip()]
    return len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines)


@dataclass(frozen=True)
class Source:
    """A readable file: its format, how many rows it holds, and its rows, read afresh."""

    file_format: FileFormat
    count: int
    read: Callable[[], Iterable[Row]]


def _source(file_format: FileFormat, read: Callable[[], Iterable[Row]]) -> Source:
    # Reading every row once first finds a malformed file before anything is stored, and
    # counts the rows for the progress bar; nothing is kept but the count.
    return Source(file_format, sum(1 for _ in read()), read)


def read_file(path: Path) -> Source:
    """The rows of a CSV, NDJSON or ClaimReview JSON-LD file; NotImportable when it is none."""
    beginning = _beginning(path)
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return _source(FileFormat.ndjson, lambda: _read_ndjson(path))
    if suffix == ".csv":
        return _source(FileFormat.csv, lambda: _read_csv(path))
    if beginning.lstrip()[:1] in ("{", "["):
        try:
            # A ClaimReview document is one JSON value, read whole; feeds of them are small.
            document = json.loads(path.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            if _ndjson_lines(path):
                return _source(FileFormat.ndjson, lambda: _read_ndjson(path))
            raise NotImportable(f"the file is not valid JSON ({exc})") from None
        rows = _read_claimreview(document)
        return Source(FileFormat.claimreview, len(rows), lambda: rows)
    if _looks_like_csv(beginning):
        return _source(FileFormat.csv, lambda: _read_csv(path))
    raise NotImportable(
        "the file is not CSV (with a header naming the columns), NDJSON or ClaimReview JSON-LD"
    )


def _message(result: ItemResult) -> str:
    problem = result.problem or {}
    errors = problem.get("errors") or []
    if not errors:
        return str(problem.get("detail", "failed"))
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][3:]) or 'row'}: {e['msg']}" for e in errors
    )


async def _record_chunk(
    sessionmaker: async_sessionmaker[AsyncSession],
    principal: Principal,
    planned: Plan,
    done: dict[str, ItemResult],
) -> dict[int, ItemResult]:
    """Record one chunk's planned rows in one transaction; refs they set are added to `done`
    only once it committed."""
    async with transaction(sessionmaker) as session:
        refs: dict[str, ItemResult] = {}

        async def work(recorder: Recorder) -> dict[int, ItemResult]:
            refs.clear()
            results = dict(planned.results)
            await recorder.read_ahead([planned.items[index] for index in planned.order])
            seen = ChainMap(refs, done)
            for index in planned.order:
                item = planned.items[index]
                results[index] = await record_item(
                    recorder=recorder, index=index, item=item, done=seen
                )
                if item.ref is not None:
                    refs[item.ref] = results[index]
            return results

        results = await recording(session, principal, utcnow(), work)
    done.update(refs)
    return results


def _count(summary: Summary, row: Row, result: ItemResult) -> None:
    if result.status is ItemStatus.created:
        summary.created += 1
    elif result.status is ItemStatus.duplicate:
        summary.duplicates += 1
    else:
        summary.errors.append((row.label, _message(result)))


async def import_rows(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Iterable[Row],
    file_format: FileFormat,
    recorded_by: str,
    advance: Callable[[int], None] = lambda _: None,
) -> Summary:
    """Record the rows in chunks of one transaction each, reading the next chunk only when the
    last is stored; report every row that failed.

    A row may cite the ref of any row before it, or of a row later in its own chunk. Only the
    refs' results are kept from chunk to chunk, so memory does not grow with the file.
    """
    summary = Summary(file_format=file_format)
    principal = Principal(key_id=None, name=recorded_by, scope=Scope.write)
    done: dict[str, ItemResult] = {}
    rows = iter(rows)
    while chunk := list(islice(rows, CHUNK)):
        readable = [row for row in chunk if row.item is not None]
        for row in chunk:
            if row.problem is not None:
                summary.errors.append((row.label, row.problem))
        planned = plan([row.item for row in readable], earlier=done)
        try:
            results = await _record_chunk(sessionmaker, principal, planned, done)
        except Exception as exc:
            summary.stopped = (
                f"stopped at {chunk[0].label}: {type(exc).__name__}: {exc}. Rows before it are "
                "stored; run the import again to go on"
            )
            break
        for index, row in enumerate(readable):
            _count(summary, row, results[index])
        advance(len(chunk))
    summary.errors.sort(key=lambda error: _row_order(error[0]))
    return summary


def _row_order(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.replace("/", " ").split() if part.isdigit())
