"""Dossier lists exported from either system's screens, read into the canonical model.

The portal's `.xls` downloads are usually HTML tables with an .xls name
(sources.md, "Exports"); officers also save them as real .xlsx or as CSV.
Every source plugin that imports files reads them here, with its own column
titles (`EXPORT_COLUMNS` for DVCQG; the one-stop plugin adds its national-code
column); titles match case-insensitively.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import functools
import re
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter
from pathlib import Path

import attrs

from nq57sync.codes import channel_from_name, status_from_name
from nq57sync.errors import DataError
from nq57sync.model import VN_TZ, Dossier, fingerprint_of, instant_state, to_local
from nq57sync.rows import NO_RAW, Row, dossier_of, iso
from nq57sync.text import printable
from nq57sync.wire import plausible

#: Canonical name → column header. Modeled: override in the configuration.
EXPORT_COLUMNS = {
    "code": "Mã hồ sơ", "procedure_code": "Mã TTHC", "procedure_name": "Tên TTHC",
    "agency_code": "Mã đơn vị", "agency_name": "Tên đơn vị", "channel": "Kênh tiếp nhận",
    "status": "Trạng thái", "received_at": "Ngày tiếp nhận", "due_at": "Ngày hẹn trả",
    "finished_at": "Ngày kết thúc xử lý", "returned_at": "Ngày trả kết quả",
}
_REQUIRED = ("code", "agency_code", "channel", "status", "received_at")
#: Optional: the national code a one-stop export shows beside its local code.
NATIONAL_CODE = "national_code"


_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _parse_date(text: str) -> dt.datetime | None:
    """`dd/mm/yyyy HH:MM[:SS]` or `dd/mm/yyyy`; None when the text is not one.

    A regular expression and `datetime(...)`: seven times faster than `strptime`,
    which tried three patterns per cell (measured: 6.8 s of 29.7 s importing
    50,000 rows).
    """
    found = _DATE.fullmatch(text)
    if found is None:
        return None
    day, month, year, hour, minute, second = found.groups()
    try:
        return dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                           int(second or 0), tzinfo=VN_TZ)
    except ValueError:
        return None


_EARLIEST = dt.datetime(2015, 1, 1, tzinfo=VN_TZ)


def _latest() -> dt.datetime:
    """Tomorrow: a received, finished or returned date cannot lie further ahead."""
    return dt.datetime.now(VN_TZ) + dt.timedelta(days=1)


def _cell(value: object) -> str:
    """A cell's text, white space folded, composed (NFC) and printable."""
    return "" if value is None else printable(" ".join(str(value).split()))


def rows_to_dossiers(header: list[str], rows: Iterable[list[object]], file_name: str,
                     columns: Mapping[str, str] = EXPORT_COLUMNS) -> list[Dossier]:
    return list(iter_dossiers(header, rows, file_name, columns))


def iter_dossiers(header: list[object], rows: Iterable[list[object]], file_name: str,
                  columns: Mapping[str, str] = EXPORT_COLUMNS) -> Iterator[Dossier]:
    """Each data row as a dossier, in file order; the first bad row is a `DataError`."""
    return map(dossier_of, iter_rows(header, rows, file_name, columns))


def _column_index(header: list[object], file_name: str,
                  columns: Mapping[str, str]) -> dict[str, int]:
    cols = {**EXPORT_COLUMNS, **columns}
    position = {_cell(h).casefold(): i for i, h in enumerate(header)}
    index = {}
    for key, title in cols.items():
        if title.casefold() in position:
            index[key] = position[title.casefold()]
        elif key in _REQUIRED:
            raise DataError(f"Tệp {file_name} thiếu cột “{title}”.")
    return index


#: The text cells of a row, in the stored order; the date cells, and whether each cannot
#: lie ahead.
_TEXT_KEYS = ("agency_code", "agency_name", "procedure_code", "procedure_name", "channel",
              "status")
_DATE_KEYS = (("received_at", True), ("due_at", False), ("finished_at", True),
              ("returned_at", True))


def iter_rows(header: list[object], rows: Iterable[list[object]], file_name: str,
              columns: Mapping[str, str] = EXPORT_COLUMNS) -> Iterator[Row]:
    """Each data row as the store's row (`nq57sync.rows`), in file order, fingerprinted;
    the first bad row is a `DataError` naming its line.

    The one reading of an exported row: `iter_dossiers` makes dossiers of these.
    Repeated texts (names, statuses, dates: a month's export has a few thousand
    distinct ones in a million rows) are cleaned and parsed once (`_text`,
    `_instant`), cells are picked by `itemgetter` and no object is built per row:
    6,6 µs a row, against 12 µs for a `Dossier` (measured on 200.000 rows).
    """
    index = _column_index(header, file_name, columns)
    titles = {**EXPORT_COLUMNS, **columns}
    code_at, national_at = index["code"], index.get(NATIONAL_CODE)
    text_at = [index.get(key) for key in _TEXT_KEYS]
    date_at = [index.get(key) for key, _ in _DATE_KEYS]
    # A column the file lacks reads the code's cell, blanked after: one getter for all.
    texts_of = itemgetter(*(code_at if i is None else i for i in text_at))
    dates_of = itemgetter(*(code_at if i is None else i for i in date_at))
    no_text = [i is None for i in text_at]
    no_date = [i is None for i in date_at]
    need = max(i for i in (code_at, national_at, *text_at, *date_at) if i is not None) + 1
    date_titles = [titles[key] for key, _ in _DATE_KEYS]
    earliest, latest = _EARLIEST, _latest()
    for n, row in enumerate(rows, 2):
        if len(row) < need:
            row = [*row, *([""] * (need - len(row)))]
        code = _cell(row[code_at])
        if not code:
            if not any(_cell(v) for v in row):
                continue
            raise DataError(f"Tệp {file_name}, dòng {n}: thiếu mã hồ sơ.")
        national = _cell(row[national_at]) if national_at is not None else ""
        agency_code, agency_name, procedure_code, procedure_name, channel_raw, status_raw = (
            map(_text, texts_of(row)) if not any(no_text) else
            ("" if blank else _text(v) for v, blank in zip(texts_of(row), no_text,
                                                          strict=True)))
        try:
            channel, status = int(channel_from_name(channel_raw)), int(status_from_name(status_raw))
            instants = []
            for value, blank, title, (_, past) in zip(dates_of(row), no_date, date_titles,
                                                      _DATE_KEYS, strict=True):
                if blank or value is None or value == "":
                    instants.append(None)
                    continue
                found = _instant_of(value) if isinstance(value, dt.datetime) else _instant(value)
                if found is None:
                    raise DataError(f"“{str(value).strip()[:30]}” không đúng dạng "
                                    "dd/mm/yyyy HH:MM.")
                if past and not earliest <= found[0] <= latest:
                    raise DataError(
                        f"ngày {found[0]:%d/%m/%Y} nằm ngoài khoảng hợp lý (từ 01/01/2015 "
                        f"đến {latest:%d/%m/%Y}); hãy sửa tệp rồi nhập lại.")
                plausible(found[0], title)
                instants.append(found)
        except DataError as exc:
            message = str(exc)
            raise DataError(message if message.startswith("Tệp")
                            else f"Tệp {file_name}, dòng {n}: {message}") from None
        received, due, finished, returned = instants
        values = (national or code, code if national and national != code else None,
                  agency_code, agency_name, procedure_code, procedure_name, "", channel, status)
        yield (*values, channel_raw, status_raw,
               received and received[1], due and due[1], finished and finished[1],
               returned and returned[1], None, None, None, NO_RAW,
               fingerprint_of((*values, status_raw, channel_raw,
                               received and received[2], due and due[2],
                               finished and finished[2], returned and returned[2],
                               None, None, None), _EMPTY))


_EMPTY: Mapping[str, object] = {}


@functools.lru_cache(maxsize=1 << 16)
def _text(value: object) -> str:
    """`_cell` for a column whose texts repeat (names, codes of agencies, statuses)."""
    return _cell(value)


@functools.lru_cache(maxsize=1 << 16)
def _instant(value: object) -> tuple[dt.datetime, str, bytes | None] | None:
    """A date cell's instant, its stored text and its fingerprint state; None when the
    text is not a date. Exports repeat the same minutes (due dates at 17:00)."""
    parsed = _parse_date(str(value).strip())
    return None if parsed is None else (parsed, iso(parsed) or "", instant_state(parsed))


def _instant_of(value: dt.datetime) -> tuple[dt.datetime, str, bytes | None]:
    found = value.replace(tzinfo=VN_TZ) if value.tzinfo is None else to_local(value)
    assert found is not None
    return found, iso(found) or "", instant_state(found)


@attrs.frozen
class ExportedList:
    """An exported dossier list, read row by row each time it is iterated.

    Memory stays bounded whatever the file's size (a 231 MB CSV once took 2.75 GB
    read whole): the importer reads it twice, once to learn its dates and once to
    store it, and never holds more than a page.
    """

    path: Path
    columns: Mapping[str, str] = attrs.field(factory=lambda: dict(EXPORT_COLUMNS))

    def __iter__(self) -> Iterator[Dossier]:
        rows = iter_table(self.path)
        header = next(rows, None)
        if header is None:
            raise DataError(f"Tệp {self.path.name} rỗng.")
        yield from iter_dossiers(header, rows, self.path.name, self.columns)

    def rows(self) -> Iterator[Row]:
        """The list as stored rows (`iter_rows`): what an import writes, with no
        `Dossier` built per row."""
        rows = iter_table(self.path)
        header = next(rows, None)
        if header is None:
            raise DataError(f"Tệp {self.path.name} rỗng.")
        yield from iter_rows(header, rows, self.path.name, self.columns)


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CHUNK = 1 << 20


def read_table(path: Path) -> tuple[list[str], list[list[object]]]:
    """Header and rows of an exported list, whatever its real format (read whole)."""
    rows = iter_table(path)
    header = next(rows, None)
    if header is None:
        raise DataError(f"Tệp {path.name} rỗng.")
    return [_cell(h) for h in header], list(rows)


def iter_table(path: Path) -> Iterator[list[object]]:
    """The header, then each row, of an exported list, streamed from the file."""
    name = path.name
    try:
        with path.open("rb") as raw:
            head = raw.read(8)
    except OSError as exc:
        raise DataError(f"Không đọc được tệp {name}: {exc.strerror or exc}.") from None
    if head == _OLE:
        raise DataError(f"Tệp {name} là tệp Excel 97-2003 nhị phân; hãy mở và lưu lại dạng .xlsx.")
    if head[:2] == b"PK":
        yield from _iter_xlsx(path)
        return
    encoding = _encoding(path)
    with path.open(encoding=encoding, newline="") as text:
        start = text.read(20000)
    if "<table" in start.lower():
        yield from _iter_html(path, encoding)
    else:
        yield from _iter_csv(path, encoding, start)


def _encoding(path: Path) -> str:
    """A byte-order mark, else UTF-8 if every byte of the file is, else cp1258.

    cp1258 is the Vietnamese Windows code page older Excel versions save CSV in;
    UTF-16 is taken only with its mark (without one, any even-length file
    "decodes" as UTF-16). The check streams the file in 1 MB chunks.
    """
    with path.open("rb") as raw:
        head = raw.read(4)
        for mark, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                               (codecs.BOM_UTF16_BE, "utf-16")):
            if head.startswith(mark):
                return encoding
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := raw.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
        raw.seek(0)
        decoder = codecs.getincrementaldecoder("cp1258")()
        try:
            while chunk := raw.read(_CHUNK):
                decoder.decode(chunk)
        except UnicodeDecodeError:
            raise DataError(f"Tệp {path.name} không phải văn bản UTF-8 hay Windows-1258.") from None
    return "cp1258"


def _iter_html(path: Path, encoding: str) -> Iterator[list[object]]:
    """The first table's rows, parsed incrementally (each row dropped once read)."""
    import lxml.etree  # only HTML exports need it; every command imports this module

    found = False
    try:
        with path.open("rb") as raw:
            for _, element in lxml.etree.iterparse(
                    raw, events=("end",), tag=("tr", "table"), html=True,
                    encoding=encoding.replace("-sig", ""), huge_tree=False):
                if element.tag == "table":
                    if found:
                        return
                    continue
                cells = ["".join(cell.itertext()) for cell in element
                         if cell.tag in ("td", "th")]
                element.clear(keep_tail=True)
                while element.getprevious() is not None:
                    del element.getparent()[0]
                if cells:
                    found = True
                    yield cells
    except (lxml.etree.LxmlError, ValueError):
        raise DataError(f"Tệp {path.name} không đọc được như một bảng HTML.") from None
    if not found:
        raise DataError(f"Tệp {path.name} không có bảng nào có dữ liệu.")


def _iter_csv(path: Path, encoding: str, start: str) -> Iterator[list[object]]:
    try:
        dialect = csv.Sniffer().sniff(start[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    try:
        with path.open(encoding=encoding, newline="") as text:
            yield from csv.reader(text, dialect)
    except csv.Error as exc:
        raise DataError(f"Tệp {path.name} không đọc được như CSV: {exc}.") from None


def _iter_xlsx(path: Path) -> Iterator[list[object]]:
    import openpyxl  # only .xlsx imports pay for it
    from openpyxl.utils.exceptions import InvalidFileException

    name = path.name
    try:
        # A file object: openpyxl judges a path by its suffix, and exports of .xlsx
        # content are often saved as .xls.
        with path.open("rb") as handle:
            book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
            try:
                for row in book.worksheets[0].iter_rows(values_only=True):
                    yield list(row)
            finally:
                book.close()
    # A damaged or crafted file fails deep in zipfile, the XML parser or openpyxl's
    # readers (ParseError is a SyntaxError): any of them is the same data error.
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError, SyntaxError,
            IndexError, AttributeError, EOFError, InvalidFileException):
        raise DataError(f"Tệp {name} không phải tệp .xlsx hợp lệ.") from None
