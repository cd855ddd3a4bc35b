"""`tracer import FILE`: sightings from CSV, NDJSON or ClaimReview JSON-LD, safe to run again.

Rows go through the batch machinery, so a row is recorded exactly as `POST /v1/sightings/batch`
would record it, and a row already recorded is reported as a duplicate, not stored twice.
"""

import csv
import io
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.service import Principal
from app.db import utcnow
from app.enums import Scope
from app.intake import claimreview
from app.intake.batch import open_transaction, plan, record_item
from app.intake.schemas import ItemResult, ItemStatus
from app.recording.recorder import Recorder
from app.transactions import transaction

# Rows per transaction: a crash loses at most this many rows' work, and a rerun redoes it.
CHUNK = 200
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


def _read_csv(text: str) -> list[Row]:
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
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
    rows: list[Row] = []
    # Spreadsheet numbering: the header is row 1.
    for number, record in enumerate(reader, start=2):
        label = f"row {number}"
        if None in record or any(value is None for value in record.values()):
            rows.append(Row(label, None, "has a different number of cells than the header"))
            continue
        rows.append(Row(label, _csv_item(record)))
    return rows


def _json_lines(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise NotImportable(f"line {number} is not JSON ({exc})") from None


def _read_ndjson(text: str) -> list[Row]:
    rows = []
    for number, value in _json_lines(text):
        label = f"line {number}"
        if isinstance(value, dict):
            rows.append(Row(label, value))
        else:
            rows.append(Row(label, None, "is not a JSON object"))
    return rows


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


def read_file(path: Path) -> tuple[FileFormat, list[Row]]:
    """The rows of a CSV, NDJSON or ClaimReview JSON-LD file; NotImportable when it is none."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise NotImportable(f"cannot read the file: {exc.strerror}") from None
    if b"\x00" in data:
        raise NotImportable("the file is binary, not CSV, NDJSON or JSON-LD")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotImportable("the file is not UTF-8 text") from None
    suffix = path.suffix.lower()
    if suffix in (".ndjson", ".jsonl"):
        return FileFormat.ndjson, _read_ndjson(text)
    if suffix == ".csv":
        return FileFormat.csv, _read_csv(text)
    if text.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(text)
        except ValueError as exc:
            lines = [line for line in text.splitlines() if line.strip()]
            if len(lines) > 1 and all(line.lstrip().startswith("{") for line in lines):
                return FileFormat.ndjson, _read_ndjson(text)
            raise NotImportable(f"the file is not valid JSON ({exc})") from None
        return FileFormat.claimreview, _read_claimreview(document)
    if _looks_like_csv(text):
        return FileFormat.csv, _read_csv(text)
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


async def import_rows(
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    rows: Sequence[Row],
    file_format: FileFormat,
    recorded_by: str,
    advance: Callable[[int], None] = lambda _: None,
) -> Summary:
    """Record the rows in chunks of one transaction each; report every row that failed."""
    summary = Summary(file_format=file_format)
    principal = Principal(key_id=None, name=recorded_by, scope=Scope.write)
    readable = [row for row in rows if row.item is not None]
    for row in rows:
        if row.problem is not None:
            summary.errors.append((row.label, row.problem))
    planned = plan([row.item for row in readable])
    results: dict[int, ItemResult] = dict(planned.results)
    done: dict[str, ItemResult] = {}
    advance(len(rows) - len(readable) + len(planned.results))
    for start in range(0, len(planned.order), CHUNK):
        chunk = planned.order[start : start + CHUNK]
        try:
            async with transaction(sessionmaker) as session:
                await open_transaction(session)
                recorder = Recorder(session=session, principal=principal, now=utcnow())
                await recorder.lock_claims([planned.items[index] for index in chunk])
                outcomes: dict[int, ItemResult] = {}
                for index in chunk:
                    item = planned.items[index]
                    outcomes[index] = await record_item(
                        recorder=recorder, index=index, item=item, done=done
                    )
                    if item.ref is not None:
                        done[item.ref] = outcomes[index]
                await recorder.finish()
        except Exception as exc:
            first = readable[chunk[0]].label
            summary.stopped = (
                f"stopped at {first}: {type(exc).__name__}: {exc}. Rows before it are stored; "
                "run the import again to go on"
            )
            break
        results.update(outcomes)
        advance(len(chunk))
    for index, row in enumerate(readable):
        result = results.get(index)
        if result is None:
            continue
        if result.status is ItemStatus.created:
            summary.created += 1
        elif result.status is ItemStatus.duplicate:
            summary.duplicates += 1
        else:
            summary.errors.append((row.label, _message(result)))
    summary.errors.sort(key=lambda error: _row_order(error[0]))
    return summary


def _row_order(label: str) -> tuple[int, ...]:
    return tuple(int(part) for part in label.replace("/", " ").split() if part.isdigit())
