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
import io
import zipfile
from collections.abc import Mapping
from pathlib import Path

import lxml.etree
import lxml.html

from nq57sync.codes import channel_from_name, status_from_name
from nq57sync.errors import DataError
from nq57sync.model import VN_TZ, Agency, Dossier, Procedure

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


def _when(value: object, where: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=VN_TZ) if value.tzinfo is None else value
    text = str(value).strip()
    for pattern in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, pattern).replace(tzinfo=VN_TZ)
        except ValueError:
            continue
    raise DataError(f"{where}: “{text[:30]}” không đúng dạng dd/mm/yyyy HH:MM.")


def _cell(value: object) -> str:
    return "" if value is None else " ".join(str(value).split())


def rows_to_dossiers(header: list[str], rows: list[list[object]], file_name: str,
                     columns: Mapping[str, str] = EXPORT_COLUMNS) -> list[Dossier]:
    cols = {**EXPORT_COLUMNS, **columns}
    position = {_cell(h).casefold(): i for i, h in enumerate(header)}
    index = {}
    for key, title in cols.items():
        if title.casefold() in position:
            index[key] = position[title.casefold()]
        elif key in _REQUIRED:
            raise DataError(f"Tệp {file_name} thiếu cột “{title}”.")
    out = []
    for n, row in enumerate(rows, 2):
        if not any(_cell(v) for v in row):
            continue
        where = f"Tệp {file_name}, dòng {n}"

        def get(key: str, row: list[object] = row) -> object:
            i = index.get(key)
            return row[i] if i is not None and i < len(row) else None

        code = _cell(get("code"))
        if not code:
            raise DataError(f"{where}: thiếu mã hồ sơ.")
        national = _cell(get(NATIONAL_CODE))
        try:
            channel_raw, status_raw = _cell(get("channel")), _cell(get("status"))
            out.append(Dossier(
                code=national or code,
                alt_code=code if national and national != code else None,
                agency=Agency(_cell(get("agency_code")), _cell(get("agency_name"))),
                procedure=Procedure(_cell(get("procedure_code")), _cell(get("procedure_name"))),
                channel=channel_from_name(channel_raw), status=status_from_name(status_raw),
                channel_raw=channel_raw, status_raw=status_raw,
                received_at=_when(get("received_at"), where),
                due_at=_when(get("due_at"), where),
                finished_at=_when(get("finished_at"), where),
                returned_at=_when(get("returned_at"), where),
                raw={title: _cell(get(key)) for key, title in cols.items() if key in index},
            ))
        except DataError as exc:
            message = str(exc)
            raise DataError(message if message.startswith("Tệp") else f"{where}: {message}") from None
    return out


def read_table(path: Path) -> tuple[list[str], list[list[object]]]:
    """Header and rows of an exported list, whatever its real format."""
    data = path.read_bytes()
    name = path.name
    if data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise DataError(f"Tệp {name} là tệp Excel 97-2003 nhị phân; hãy mở và lưu lại dạng .xlsx.")
    if data[:2] == b"PK":
        return _read_xlsx(data, name)
    text = _decode(data, name)
    if "<table" in text[:20000].lower():
        return _read_html(text, name)
    return _read_csv(text, name)


def _decode(data: bytes, name: str) -> str:
    """Text as a careful tool reads it: a byte-order mark, else strict UTF-8, else cp1258.

    cp1258 is the Vietnamese Windows code page older Excel versions save CSV in;
    UTF-16 is taken only with its mark (without one, any even-length file
    "decodes" as UTF-16).
    """
    for mark, encoding in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                           (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(mark):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                raise DataError(f"Tệp {name} có dấu {encoding.upper()} nhưng nội dung "
                                "không đúng mã đó.") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1258")
    except UnicodeDecodeError:
        raise DataError(f"Tệp {name} không phải văn bản UTF-8 hay Windows-1258.") from None


def _read_html(text: str, name: str) -> tuple[list[str], list[list[object]]]:
    try:
        document = lxml.html.fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        raise DataError(f"Tệp {name} không đọc được như một bảng HTML.") from None
    tables = document.xpath("//table")
    if not tables:
        raise DataError(f"Tệp {name} không có bảng nào.")
    rows = [[cell.text_content() for cell in tr.xpath("./th|./td")]
            for tr in tables[0].xpath(".//tr")]
    rows = [r for r in rows if r]
    if not rows:
        raise DataError(f"Tệp {name} có bảng rỗng.")
    return [str(h) for h in rows[0]], list(rows[1:])


def _read_csv(text: str, name: str) -> tuple[list[str], list[list[object]]]:
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel  # type: ignore[assignment]
    try:
        rows = list(csv.reader(io.StringIO(text), dialect))
    except csv.Error as exc:
        raise DataError(f"Tệp {name} không đọc được như CSV: {exc}.") from None
    if not rows:
        raise DataError(f"Tệp {name} rỗng.")
    return rows[0], list(rows[1:])


def _read_xlsx(data: bytes, name: str) -> tuple[list[str], list[list[object]]]:
    import openpyxl  # only .xlsx imports pay for it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError):
        raise DataError(f"Tệp {name} không phải tệp .xlsx hợp lệ.") from None
    sheet = book.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    book.close()
    if not rows:
        raise DataError(f"Tệp {name} có trang tính rỗng.")
    return [_cell(h) for h in rows[0]], rows[1:]
