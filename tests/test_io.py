"""Reading books as companies export them: ids as text, time zones, encodings, one file per table."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bad_inputs import write

from analysis.data import features, files
from analysis.data.io import load_book
from analysis.errors import DataContractError

AS_OF = dt.date(2025, 7, 1)


def _rewrite(folder, table, change):
    path = folder / f"{table}.parquet"
    pq.write_table(change(pq.read_table(path)), path)


def _with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def test_integer_ids_in_accounts_read_as_text_and_give_the_same_features(tmp_path):
    text = write(tmp_path / "text")
    numeric = write(tmp_path / "numeric")
    for table in ("accounts", "contracts", "orders", "usage"):
        # ids "A00007" become 7: an integer column in accounts (and a float one in orders, as pandas
        # writes an integer column with gaps), text digits in the other tables
        frame = pd.read_parquet(numeric / f"{table}.parquet")
        digits = frame["account_id"].str.lstrip("A").astype("int64")
        frame["account_id"] = {"accounts": digits, "orders": digits.astype(float)}.get(table, digits.astype(str))
        frame.to_parquet(numeric / f"{table}.parquet", index=False)
        reference = pd.read_parquet(text / f"{table}.parquet")
        reference["account_id"] = reference["account_id"].str.lstrip("A").astype("int64").astype(str)
        reference.to_parquet(text / f"{table}.parquet", index=False)
    book = load_book(numeric)
    assert book.raw_types["accounts"]["account_id"] == "BIGINT" and book.raw_types["orders"]["account_id"] == "DOUBLE"
    assert book.sql("SELECT DISTINCT typeof(account_id) AS t FROM orders")["t"].tolist() == ["VARCHAR"]
    assert "7" in set(book.df("orders")["account_id"])  # 7.0 reads as id "7"
    expected = features.build_features(load_book(text), AS_OF, 0.8)
    pd.testing.assert_frame_equal(features.build_features(book, AS_OF, 0.8), expected)


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "+08:00", "UTC"])
def test_time_zone_aware_timestamps_read_as_the_calendar_date_where_they_were_recorded(tmp_path, zone):
    folder = write(tmp_path / "book")
    dates = pd.to_datetime(pd.read_parquet(folder / "orders.parquet")["date"])

    def local_midnight(table):
        # midnight of each order date, in the zone: in UTC that is the previous day for Shanghai
        naive = pa.compute.cast(table["date"], pa.timestamp("s"))
        if zone.startswith("+"):
            shifted = pa.compute.subtract(naive, pa.scalar(dt.timedelta(hours=8), pa.duration("s")))
            return _with_column(table, "date", pa.compute.cast(shifted, pa.timestamp("s", tz=zone)))
        return _with_column(table, "date", pa.compute.assume_timezone(naive, zone))

    _rewrite(folder, "orders", local_midnight)
    book = load_book(folder)
    assert book.zones["orders"] == {"date": zone}
    read = book.df("orders")["date"]
    assert (read.dt.normalize() == read).all()
    assert (read.dt.date == dates.dt.date).all()


def test_session_time_zone_is_utc_whatever_the_machine(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Auckland")
    book = load_book(write(tmp_path / "book"))
    assert book.sql("SELECT current_setting('TimeZone') AS z")["z"].iloc[0] == "UTC"


def test_csv_dates_with_an_offset_read_as_the_date_written(tmp_path):
    folder = write(tmp_path / "book", fmt="csv")
    path = folder / "orders.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame["date"] = frame["date"] + "T00:30:00+08:00"
    frame.to_csv(path, index=False)
    read = load_book(folder).df("orders")["date"].dt.strftime("%Y-%m-%d")
    assert (read == frame["date"].str[:10]).all()


def test_latin1_declared_in_extract_json_reads_the_names(tmp_path):
    folder = write(tmp_path / "book", fmt="csv")
    path = folder / "accounts.csv"
    path.write_bytes(path.read_text(encoding="utf-8").replace("Company A00003", "Société Müller").encode("latin-1"))
    with pytest.raises(DataContractError, match="not UTF-8"):
        load_book(folder)
    (folder / "extract.json").write_text(json.dumps({"extract_date": "2025-12-31", "encoding": "latin1"}))
    names = load_book(folder).df("accounts")["name"]
    assert "Société Müller" in set(names)


def test_utf8_check_names_the_exact_byte_offset_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "ENCODING_CHUNK", 7)
    path = tmp_path / "t.csv"
    good = "a,b\nx,é漢\n".encode()  # multi-byte characters straddle the 7-byte chunks
    path.write_bytes(good + b"y,\xe9t\n")
    with pytest.raises(DataContractError, match=f"byte 0xe9 at byte offset {len(good) + 2} \\(line 3\\)"):
        files.check_utf8(path)
    path.write_bytes(good + b"z,\xe6\xbc")  # a character cut off by the end of the file
    with pytest.raises(DataContractError, match=f"offset {len(good) + 2}"):
        files.check_utf8(path)
    path.write_bytes(good)
    files.check_utf8(path)


def test_a_utf16_file_is_recognised(tmp_path):
    path = tmp_path / "accounts.csv"
    path.write_bytes("account_id\nA1\n".encode("utf-16"))
    with pytest.raises(DataContractError, match='"accounts": "utf-16"'):
        files.check_utf8(path)


def test_a_file_next_to_a_folder_of_parts_is_ambiguous(tmp_path):
    folder = write(tmp_path / "book")
    (folder / "usage").mkdir()
    pd.read_parquet(folder / "usage.parquet").to_parquet(folder / "usage" / "part-0.parquet")
    with pytest.raises(DataContractError, match="'usage' is in 2 places.*usage/, usage.parquet"):
        load_book(folder)


@pytest.mark.parametrize(
    "content, message",
    [
        ("[1, 2]", "must hold a JSON object"),
        ('{"extract_date": "2025-12-31", "encodng": "latin-1"}', r"unknown key\(s\) \['encodng'\]"),
        ('{"encoding": {"acounts": "latin-1"}}', "unknown table"),
        ('{"encoding": 5}', "must be a name or a mapping"),
    ],
)
def test_extract_json_mistakes_are_named(tmp_path, content, message):
    folder = write(tmp_path / "book")
    (folder / "extract.json").write_text(content)
    with pytest.raises(DataContractError, match=message):
        load_book(folder)


def test_load_book_takes_a_date_not_text(tmp_path):
    with pytest.raises(TypeError, match="datetime.date"):
        load_book(write(tmp_path / "book"), extract_date="2025-12-31")
