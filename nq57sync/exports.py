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
from pathlib import Path

import attrs

from nq57sync.codes import channel_from_name, status_from_name
from nq57sync.errors import DataError
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure
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


@functools.lru_cache(maxsize=65536)  # exports repeat the same minutes (due dates at 17:00)
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


def _when(value: object, where: str, *, past: bool = True) -> dt.datetime | None:
    """A date cell; with `past`, one that cannot lie ahead (received, finished, returned)."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        found = value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value
    else:
        text = str(value).strip()
        parsed = _parse_date(text)
        if parsed is None:
            raise DataError(f"{where}: “{text[:30]}” không đúng dạng dd/mm/yyyy HH:MM.")
        found = parsed
    if past and not _EARLIEST <= found <= _latest():
        raise DataError(f"{where}: ngày {found:%d/%m/%Y} nằm ngoài khoảng hợp lý (từ 01/01/2015 "
                        f"đến {_latest():%d/%m/%Y}); hãy sửa tệp rồi nhập lại.")
    return plausible(found, where)


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
    cols = {**EXPORT_COLUMNS, **columns}
    position = {_cell(h).casefold(): i for i, h in enumerate(header)}
    index = {}
    for key, title in cols.items():
        if title.casefold() in position:
            index[key] = position[title.casefold()]
        elif key in _REQUIRED:
            raise DataError(f"Tệp {file_name} thiếu cột “{title}”.")
    for n, row in enumerate(rows, 2):
        # Each cell of the row read once (folded, composed, printable).
        cells = {key: _cell(row[i]) if i < len(row) else "" for key, i in index.items()}
        if not any(cells.values()) and not any(_cell(v) for v in row):
            continue
        where = f"Tệp {file_name}, dòng {n}"
        code = cells.get("code", "")
        if not code:
            raise DataError(f"{where}: thiếu mã hồ sơ.")
        national = cells.get(NATIONAL_CODE, "")
        try:
            channel_raw, status_raw = cells.get("channel", ""), cells.get("status", "")
            yield Dossier(
                code=national or code,
                alt_code=code if national and national != code else None,
                agency=Agency(cells.get("agency_code", ""), cells.get("agency_name", "")),
                procedure=Procedure(cells.get("procedure_code", ""),
                                    cells.get("procedure_name", "")),
                channel=channel_from_name(channel_raw), status=status_from_name(status_raw),
                channel_raw=channel_raw, status_raw=status_raw,
                received_at=_when(_raw(row, index, "received_at"), where),
                due_at=_when(_raw(row, index, "due_at"), where, past=False),
                finished_at=_when(_raw(row, index, "finished_at"), where),
                returned_at=_when(_raw(row, index, "returned_at"), where),
            )
        except DataError as exc:
            message = str(exc)
            raise DataError(message if message.startswith("Tệp") else f"{where}: {message}") from None


def _raw(row: list[object], index: Mapping[str, int], key: str) -> object:
    """A cell as the reader gave it (a real date from .xlsx stays a date)."""
    i = index.get(key)
    return row[i] if i is not None and i < len(row) else None


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
