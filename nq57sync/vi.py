"""Vietnamese formatting for everything a person reads: 1.437, 81,6%, 14/11/2025."""

from __future__ import annotations

import datetime as dt
import functools

LOCALE = "vi_VN"


@functools.lru_cache(maxsize=65_536)  # Babel takes ~0,15 ms a call; reports repeat their figures
def number(value: float | int, decimals: int = 0) -> str:
    from babel.numbers import format_decimal  # 22 ms to import; most commands print no number

    if round(value, decimals) == 0:
        value = 0  # never "-0" or "-0,0"
    if decimals:
        return format_decimal(value, format=f"#,##0.{'0' * decimals}", locale=LOCALE)
    return format_decimal(value, format="#,##0", locale=LOCALE)


def percent(share: float | None, decimals: int = 1) -> str:
    """`share` is a fraction (0.816 → "81,6%"); None (nothing to divide) → "–"."""
    if share is None:
        return "–"
    if round(share * 100, decimals) == 0:
        share = 0.0
    from babel.numbers import format_percent

    return format_percent(share, format=f"#,##0.{'0' * decimals}%", locale=LOCALE)


def share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def date(value: dt.date | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y}"


def datetime(value: dt.datetime | None) -> str:
    return "" if value is None else f"{value:%d/%m/%Y %H:%M}"


def signed(value: float | int, decimals: int = 0) -> str:
    """A difference with its sign: "+3", "-1.200", "0"."""
    text = number(abs(value), decimals)
    return f"+{text}" if value > 0 else f"-{text}" if value < 0 else text


# -- labels a person reads instead of codes -------------------------------------
# Every Vietnamese label lives here; other modules import them (domain.md's names).

#: `TrangThaiHoSo` → its name, as exports and screens show it.
STATUS_NAMES: dict[int, str] = {
    1: "Mới đăng ký",
    2: "Đã tiếp nhận",
    3: "Không được tiếp nhận",
    4: "Đang xử lý",
    5: "Yêu cầu bổ sung",
    6: "Yêu cầu thực hiện nghĩa vụ tài chính",
    7: "Rút hồ sơ",
    8: "Dừng xử lý",
    9: "Đã xử lý xong",
    10: "Đã trả kết quả",
}
#: `KenhThucHien` → its name.
CHANNEL_NAMES: dict[int, str] = {
    1: "Trực tiếp",
    2: "Trực tuyến",
    3: "Bưu chính",
}
#: Other names the one-stop system's screens and exports give the same statuses
#: (modeled on iGate's dossierStatus names, sources.md).
STATUS_ALIASES: dict[str, int] = {
    "Chờ tiếp nhận": 1,
    "Không tiếp nhận": 3,
    "Chờ bổ sung": 5,
    "Chờ thực hiện nghĩa vụ tài chính": 6,
    "Đã rút hồ sơ": 7,
    "Có kết quả": 9,
}
#: Dossier fields, as a discrepancy names them.
FIELD_NAMES = {"status": "trạng thái", "timeliness": "tình trạng đúng hạn",
               "channel": "kênh tiếp nhận", "procedure_code": "mã thủ tục (MaTTHC)",
               "agency_code": "mã đơn vị (MaDinhDanh)", "received_at": "ngày tiếp nhận",
               "due_at": "ngày hẹn trả", "finished_at": "ngày kết thúc xử lý",
               "returned_at": "ngày trả kết quả"}
#: Discrepancy kinds (interface.md) and their lifecycle states.
DISCREPANCY_KINDS = {
    "missing_in_right": "Thiếu hồ sơ ở nguồn đối chiếu",
    "missing_in_left": "Thừa hồ sơ ở nguồn đối chiếu",
    "status_mismatch": "Lệch trạng thái", "timeliness_mismatch": "Lệch tình trạng đúng hạn",
    "channel_mismatch": "Lệch kênh tiếp nhận", "procedure_mismatch": "Lệch mã thủ tục",
    "agency_mismatch": "Lệch đơn vị xử lý", "date_mismatch": "Lệch ngày",
    "sync_pending": "Đang chờ đồng bộ",
}
DISCREPANCY_STATES = {"new": "mới", "open": "còn mở", "resolved": "đã khắc phục"}
#: The standard form's metrics.
METRIC_NAMES = {
    "carried_over": "kỳ trước chuyển qua", "received_online": "tiếp nhận trực tuyến",
    "received_direct": "tiếp nhận trực tiếp", "received_postal": "tiếp nhận qua bưu chính",
    "received_total": "tổng tiếp nhận", "resolved_early": "giải quyết trước hạn",
    "resolved_on_time": "giải quyết đúng hạn", "resolved_late": "giải quyết quá hạn",
    "resolved_total": "tổng đã giải quyết", "pending_in_time": "đang giải quyết trong hạn",
    "pending_overdue": "đang giải quyết quá hạn", "pending_total": "tổng đang giải quyết",
    "withdrawn": "rút hồ sơ", "rejected": "từ chối",
}
#: The 766 index's groups.
INDEX_GROUPS = {"CKMB": "Công khai, minh bạch", "TDGQ": "Tiến độ giải quyết",
                "TTTT": "Dịch vụ trực tuyến", "CLGQ": "Thanh toán trực tuyến",
                "MDHL": "Mức độ hài lòng", "MDSH": "Số hoá hồ sơ"}

#: Display names of sources, by source name (and by plugin name): filled from the source
#: classes the plugins register (`Source.display_name`) and the configured sources, so
#: the core names no system itself. A source nobody named shows its own name.
SOURCE_NAMES: dict[str, str] = {}
#: Shorter forms for table headings and sheet names.
SOURCE_SHORT_NAMES: dict[str, str] = {}
SNAPSHOT_STATES = {"running": "đang chạy", "complete": "hoàn tất", "failed": "thất bại"}
SNAPSHOT_KINDS = {"pull": "đồng bộ", "import": "nhập tệp"}
TIMELINESS = {"early": "trước hạn", "on_time": "đúng hạn", "late": "quá hạn",
              "in_time": "đang trong hạn", "overdue": "đang quá hạn"}
#: The built-in consistency rules, as a report names them.
RULE_NAMES = {
    "received_parts": "Tổng tiếp nhận = kỳ trước chuyển qua + mới tiếp nhận",
    "received_balance": "Tổng tiếp nhận = đã giải quyết + đang giải quyết + rút + từ chối",
    "resolved_parts": "Đã giải quyết = trước hạn + đúng hạn + quá hạn",
    "pending_parts": "Đang giải quyết = trong hạn + quá hạn",
    "cumulative_non_decreasing": "Số cộng dồn không được giảm",
    "published_vs_dossiers": "Số công bố khớp với hồ sơ của chính nguồn đó",
}
JOB_STATUSES = {"ok": "thành công", "failed": "lỗi", "skipped": "bỏ qua", "cancelled": "đã dừng"}
#: `check-report`: what each check looks at, and what it found.
REPORT_CHECK_KINDS = {"sum": "Tổng và các phần", "share": "Tỷ lệ", "fraction": "Phân số",
                      "status": "Tình trạng", "repeat": "Số ghi lặp",
                      "source": "Đối chiếu với hệ thống"}
REPORT_CHECK_STATUSES = {"ok": "khớp", "mismatch": "sai", "unclear": "chưa rõ"}
REPORT_CHECK_COLUMNS = ("Dòng", "Loại", "Kết quả", "Số ghi", "Số đúng", "Nhận xét")
#: Daemon jobs, as `status` and the dashboard name them.
JOB_NAMES = {"reconcile": "Đối chiếu", "prune": "Dọn phiên bản cũ", "report": "Lập báo cáo",
             "sync": "Đồng bộ"}


def source_name(source: str, short: bool = False) -> str:
    return (SOURCE_SHORT_NAMES if short else SOURCE_NAMES).get(source, source)


def name_source(source: str, display_name: str, short_name: str = "") -> None:
    """Record how messages and reports name `source` (a plugin's class or a configured source)."""
    if display_name:
        SOURCE_NAMES[source] = display_name
        SOURCE_SHORT_NAMES[source] = short_name or display_name


def rule_name(rule: str) -> str:
    return RULE_NAMES.get(rule, rule)


def job_name(job_id: str) -> str:
    """`sync:dvcqg` → "Đồng bộ Cổng DVCQG", `report:0` → "Lập báo cáo (lịch 1)"."""
    kind, _, rest = job_id.partition(":")
    label = JOB_NAMES.get(kind, kind)
    if kind == "sync" and rest:
        return f"{label} {source_name(rest, short=True)}"
    if rest.isdigit():
        return f"{label} (lịch {int(rest) + 1})"
    return f"{label} {rest}".strip()


def field_value(field: str | None, value: str | None) -> str:
    """A dossier field's value as a person reads it: `10 – Đã trả kết quả`,
    `2 – Trực tuyến`, `đúng hạn`, `09/10/2026 14:20`; anything else as it is."""
    from nq57sync.codes import CHANNEL_NAMES_VI, STATUS_NAMES_VI, Channel, Status

    if value is None or value == "":
        return "—"
    try:
        if field == "status":
            return f"{value} – {STATUS_NAMES_VI[Status(int(value))]}"
        if field == "channel":
            return f"{value} – {CHANNEL_NAMES_VI[Channel(int(value))]}"
    except (ValueError, KeyError):
        return value
    if field == "timeliness":
        return TIMELINESS.get(value, value)
    if field and field.endswith("_at"):
        try:
            return datetime(dt.datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


#: click's own messages (its gettext message ids) in Vietnamese; `cli` installs them.
CLICK_MESSAGES = {
    "Usage:": "Cách dùng:",
    "Options": "Tùy chọn",
    "Commands": "Lệnh",
    "Positional arguments": "Đối số",
    "Show this message and exit.": "Hiện hướng dẫn này rồi thoát.",
    "Show the version and exit.": "Hiện phiên bản rồi thoát.",
    "required": "bắt buộc",
    "default: {default}": "mặc định: {default}",
    "(dynamic)": "(tùy lúc chạy)",
    "env var: {var}": "biến môi trường: {var}",
    "Error: {message}": "Lỗi: {message}",
    "Try '{command} {option}' for help.": "Xem '{command} {option}' để được hướng dẫn.",
    "Invalid value: {message}": "Giá trị không hợp lệ: {message}",
    "Invalid value for {param_hint}: {message}": "Giá trị không hợp lệ cho {param_hint}: {message}",
    "Missing argument": "Thiếu đối số",
    "Missing option": "Thiếu tùy chọn",
    "Missing parameter": "Thiếu tham số",
    "Missing {param_type}": "Thiếu {param_type}",
    "Missing parameter: {param_name}": "Thiếu tham số: {param_name}",
    "Missing command.": "Thiếu tên lệnh.",
    "No such option {name!r}.": "Không có tùy chọn {name!r}.",
    "No such option: {name}": "Không có tùy chọn {name}.",
    "No such command {name!r}.": "Không có lệnh {name!r}.",
    "Did you mean {possibility}?": "Có phải ý bạn là {possibility}?",
    "(Did you mean one of: {possibilities}?)": "(Có phải ý bạn là một trong: {possibilities}?)",
    "Got unexpected extra argument ({args})": "Thừa đối số ({args})",
    "Got unexpected extra arguments ({args})": "Thừa các đối số ({args})",
    "Option {name!r} requires an argument.": "Tùy chọn {name!r} cần một giá trị.",
    "Option {name!r} requires {nargs} arguments.": "Tùy chọn {name!r} cần {nargs} giá trị.",
    "Option {name!r} does not take a value.": "Tùy chọn {name!r} không nhận giá trị.",
    "Argument {name!r} takes {nargs} values.": "Đối số {name!r} cần {nargs} giá trị.",
    "{value!r} is not a valid {number_type}.": "{value!r} không phải {number_type} hợp lệ.",
    "{value} is not in the range {range}.": "{value} nằm ngoài khoảng {range}.",
    "{value!r} is not {choice}.": "{value!r} không phải {choice}.",
    "{value!r} is not one of {choices}.": "{value!r} không thuộc các giá trị {choices}.",
    "{value!r} is not a valid boolean.": "{value!r} không phải giá trị đúng/sai hợp lệ.",
    "{name} {filename!r} does not exist.": "{name} {filename!r} không tồn tại.",
    "{name} {filename!r} is a file.": "{name} {filename!r} là một tệp.",
    "{name} {filename!r} is a directory.": "{name} {filename!r} là một thư mục.",
    "{name} {filename!r} is not readable.": "Không đọc được {name} {filename!r}.",
    "{name} {filename!r} is not writable.": "Không ghi được {name} {filename!r}.",
    "file": "tệp",
    "directory": "thư mục",
    "path": "đường dẫn",
    "Aborted!": "Đã dừng.",
    "unknown error": "lỗi không rõ",
    "Could not open file {filename!r}: {message}": "Không mở được tệp {filename!r}: {message}",
    "integer": "số nguyên",
    "float": "số thực",
}
#: Placeholders in help (`--period KỲ`) instead of click's type names (`PERIOD_TYPE`).
METAVARS = {"period_type": "KỲ", "text": "CHUỖI", "integer": "SỐ", "float": "SỐ",
            "path": "ĐƯỜNG_DẪN", "file": "TỆP", "directory": "THƯ_MỤC", "boolean": "CÓ/KHÔNG"}


@functools.lru_cache(maxsize=4096)  # the same few sentences, for tens of thousands of dossiers
def advice(kind: str, base_kind: str, field: str | None, left: str | None, right: str | None,
           grace_hours: float, left_source: str, right_source: str) -> str:
    """What an officer should do first about a discrepancy, naming the two sources as people do.

    `left_source` is the system of record, `right_source` the copy that must agree
    (for the built-in pair: "Một cửa" and "Cổng DVCQG").
    """
    ours, theirs = source_name(left_source, short=True), source_name(right_source, short=True)
    if kind == "sync_pending":
        return (f"Hồ sơ vừa thay đổi trong {number(grace_hours)} giờ qua; chờ hệ thống tự đồng "
                "bộ, nếu sau thời hạn này vẫn lệch thì đồng bộ lại thủ công.")
    if base_kind == "missing_in_right":
        return f"Đồng bộ lại hồ sơ lên {theirs}: {theirs} chưa có hồ sơ này."
    if base_kind == "missing_in_left":
        return (f"Xác minh hồ sơ có trên {theirs} nhưng không có trong {ours} "
                f"(kiểm tra mã hồ sơ, hoặc đề nghị gỡ bản ghi thừa trên {theirs}).")
    if base_kind == "status_mismatch":
        def name(v: str | None) -> str:
            return STATUS_NAMES.get(int(v), v) if v and v.isdigit() else "—"
        return (f"Đồng bộ lại trạng thái lên {theirs} ({ours}: “{name(left)}”, "
                f"{theirs}: “{name(right)}”); nếu {ours} sai thì chuyển bước xử lý cho đúng trước.")
    if base_kind == "timeliness_mismatch":
        return (f"Đối chiếu ngày hẹn trả và thời điểm kết thúc xử lý: {ours} tính "
                f"“{TIMELINESS.get(left or '', left or '—')}”, {theirs} tính "
                f"“{TIMELINESS.get(right or '', right or '—')}”; sửa thời điểm cho đúng rồi "
                "đồng bộ lại.")
    label = FIELD_NAMES.get(field or "", field or "")
    return f"Sửa {label} trong {ours} cho đúng rồi đồng bộ lại lên {theirs}."
