"""The files of a book on disk, checked before DuckDB reads them: which file is each table,
``extract.json``, the text encoding of CSV files, and whether Parquet files are whole.

Every problem raises :class:`~analysis.errors.DataContractError` naming the file and saying what
to do, so a bad file never surfaces as a raw DuckDB or Arrow traceback (exit 2, not 1).
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

from analysis.data.contract import TABLES
from analysis.errors import DataContractError

EXTRACT_FILE = "extract.json"
FILE_SUFFIXES = (".parquet", ".csv", ".xlsx")
EXTRACT_KEYS = ("extract_date", "encoding")
# Text encodings DuckDB's CSV reader decodes itself (others need its downloadable extension,
# and nothing may download at run time).
CSV_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1"}
ENCODING_CHUNK = 1 << 20


@dataclass(frozen=True)
class Extract:
    """What ``extract.json`` says: the export date and the text encoding of CSV tables."""

    extract_date: dt.date | None = None
    encodings: dict[str, str] = field(default_factory=dict)  # table -> DuckDB encoding name


def table_files(folder: Path, table: str) -> list[Path]:
    """The file(s) holding ``table`` in ``folder``: one ``<table>.parquet|csv|xlsx`` or a
    ``<table>/`` folder of Parquet parts. Two candidates are refused: which one holds the book is
    the analyst's call, and silently reading one would hide the other."""
    candidates = [folder / f"{table}{suffix}" for suffix in FILE_SUFFIXES if (folder / f"{table}{suffix}").exists()]
    partitioned = folder / table
    parts = sorted(partitioned.glob("*.parquet")) if partitioned.is_dir() else []
    if parts:
        candidates.insert(0, partitioned)
    if len(candidates) > 1:
        names = ", ".join(f"{p.name}{'/' if p.is_dir() else ''}" for p in candidates)
        raise DataContractError(
            f"Table '{table}' is in {len(candidates)} places in {folder}: {names}. Keep exactly one (move the "
            f"others out of the folder), so that it is clear which export the analysis reads."
        )
    if parts:
        return parts
    return candidates


def read_extract(folder: Path) -> Extract:
    """``extract.json`` of the folder (``{"extract_date": "YYYY-MM-DD", "encoding": ...}``), or an
    empty Extract when there is none. ``encoding`` is one name for every CSV table or a mapping
    ``{table: name}``; the names DuckDB reads are utf-8 (default), utf-16 and latin-1."""
    path = folder / EXTRACT_FILE
    if not path.exists():
        return Extract()
    example = '{"extract_date": "2025-12-31", "encoding": {"accounts": "latin-1"}}'
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataContractError(
            f"{path} is not valid JSON ({exc}). Write it as, for example, {example} (encoding is optional)."
        ) from None
    if not isinstance(data, dict):
        raise DataContractError(f"{path} must hold a JSON object such as {example}, not {type(data).__name__}.")
    unknown = sorted(set(data) - set(EXTRACT_KEYS))
    if unknown:
        raise DataContractError(f"{path} has unknown key(s) {unknown}; allowed: {list(EXTRACT_KEYS)}.")
    extract_date = None
    if "extract_date" in data:
        try:
            extract_date = dt.date.fromisoformat(str(data["extract_date"]))
        except ValueError:
            raise DataContractError(
                f"{path}: extract_date {data['extract_date']!r} is not a date; use YYYY-MM-DD (e.g. 2025-12-31)."
            ) from None
    return Extract(extract_date, _encodings(path, data.get("encoding")))


def _encodings(path: Path, given) -> dict[str, str]:
    if given is None:
        return {}
    if isinstance(given, str):
        given = dict.fromkeys(TABLES, given)
    if not isinstance(given, dict) or not all(isinstance(v, str) for v in given.values()):
        raise DataContractError(f"{path}: encoding must be a name or a mapping {{table: name}}, got {given!r}.")
    unknown = sorted(set(given) - set(TABLES))
    if unknown:
        raise DataContractError(f"{path}: encoding names unknown table(s) {unknown}; tables: {list(TABLES)}.")
    out = {}
    for table, name in given.items():
        try:
            canonical = codecs.lookup(name).name
        except LookupError:
            canonical = None
        if canonical not in CSV_ENCODINGS:
            raise DataContractError(
                f"{path}: encoding {name!r} for {table} cannot be read here; the CSV reader decodes "
                f"{', '.join(CSV_ENCODINGS.values())}. Re-save the file as UTF-8."
            )
        out[table] = CSV_ENCODINGS[canonical]
    return out


def check_utf8(path: Path) -> None:
    """Refuse a CSV file that is not UTF-8, naming the first byte offset that does not decode.

    Streams the file through an incremental decoder (a 1 GB export takes about a second)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    fed = 0
    with path.open("rb") as handle:
        head = handle.read(2)
        if head in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            raise DataContractError(_not_utf8(path, 0, head, "utf-16", "starts with a UTF-16 byte-order mark"))
        handle.seek(0)
        while chunk := handle.read(ENCODING_CHUNK):
            pending = len(decoder.getstate()[0])
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                offset = fed - pending + exc.start
                handle.seek(offset)
                bad = handle.read(max(1, exc.end - exc.start))
                raise DataContractError(_not_utf8(path, offset, bad, "latin-1", "")) from None
            fed += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise DataContractError(_not_utf8(path, fed - len(decoder.getstate()[0]), b"", "latin-1", "")) from None


def _not_utf8(path: Path, offset: int, bad: bytes, suggest: str, why: str) -> str:
    line = _line_of(path, offset)
    where = why or f"byte 0x{bad[:1].hex()} at byte offset {offset:,} (line {line:,}) does not decode"
    looks = "UTF-16" if suggest == "utf-16" else "Latin-1 / Windows-1252 (a common Excel or CRM export)"
    return (
        f"{path.name} is not UTF-8 text: {where}; it looks like {looks}. Re-save it as UTF-8, or declare "
        f'its encoding in {EXTRACT_FILE}: "encoding": {{"{path.stem}": "{suggest}"}} (readable encodings: '
        f"{', '.join(CSV_ENCODINGS.values())})."
    )


def _line_of(path: Path, offset: int) -> int:
    with path.open("rb") as handle:
        return handle.read(offset).count(b"\n") + 1


def check_parquet(path: Path):
    """The Arrow schema of a Parquet file whose footer reads (a truncated or corrupt file is refused)."""
    import pyarrow.parquet as pq

    try:
        return pq.read_metadata(path).schema.to_arrow_schema()
    except Exception as exc:  # pyarrow raises ArrowInvalid / OSError, depending on the damage
        raise DataContractError(
            f"{path} is not a readable Parquet file ({type(exc).__name__}: {exc}); it is probably truncated or "
            f"corrupt. Export it again."
        ) from None
