"""What a report says, independent of its format.

Built once from a reconciliation result and the store; each writer (docx,
xlsx, html, md) only lays it out. Every string here is what a person at the
service centre reads: Vietnamese, with Vietnamese number formats.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from nq57sync import vi
from nq57sync.config import Config
from nq57sync.hooktypes import ReportSection
from nq57sync.model import METRICS, VN_TZ
from nq57sync.reconcile import ReconcileResult
from nq57sync.rules import METRIC_NAMES_VI
from nq57sync_storage import Store

INDEX_GROUPS_VI = vi.INDEX_GROUPS  # the catalogue is `vi`'s
INDEX_MAXIMA = {"CKMB": 18, "TDGQ": 20, "TTTT": 12, "CLGQ": 10, "MDHL": 18, "MDSH": 22}
FORM_HEADER = ("Đơn vị", "Kỳ trước chuyển qua", "Trực tuyến", "Trực tiếp", "Bưu chính",
               "Tổng tiếp nhận", "Trước hạn", "Đúng hạn", "Quá hạn", "Tổng đã giải quyết",
               "Trong hạn", "Quá hạn (đang giải quyết)", "Tổng đang giải quyết", "Rút hồ sơ",
               "Từ chối", "Tỷ lệ trực tuyến", "Tỷ lệ đúng hạn")
LIST_LIMIT = 200


@attrs.frozen
class Percent:
    """A share (0.816) that every writer shows as "81,6%"."""

    value: float | None

    def __str__(self) -> str:
        return vi.percent(self.value)


Cell = int | float | str | Percent | None


@attrs.frozen
class Table:
    title: str
    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    note: str = ""
    #: xlsx writes every row; the other formats stop here and say how many remain.
    shown: int | None = None
    #: The Excel sheet's name (31 characters at most), saying which system it shows.
    sheet: str = ""


@attrs.frozen
class Chart:
    key: str
    title: str
    kind: str                                  # "bar" or "line"
    categories: tuple[str, ...]
    series: tuple[tuple[str, tuple[float, ...]], ...]
    y_label: str = ""


@attrs.frozen
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    tables: tuple[Table, ...] = ()
    charts: tuple[Chart, ...] = ()


@attrs.frozen
class ReportContent:
    parent_body: str
    unit_name: str
    place: str
    issued: dt.date
    title: str
    subtitle: str
    period_line: str
    sections: tuple[Section, ...]
    recipients: tuple[str, ...]
    signer_title: str
    signer_name: str

    @property
    def place_and_date(self) -> str:
        d = self.issued
        return f"{self.place}, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"

    def charts(self) -> list[Chart]:
        return [c for s in self.sections for c in s.charts]


def fmt(cell: Cell) -> str:
    """A cell as text in Vietnamese format."""
    if cell is None:
        return ""
    if isinstance(cell, Percent):
        return str(cell)
    if isinstance(cell, bool):
        return "có" if cell else "không"
    if isinstance(cell, int):
        return vi.number(cell)
    if isinstance(cell, float):
        return vi.number(cell, 2)
    return str(cell)


def _source_name(source: str) -> str:
    return vi.source_name(source)


def _form_row(label: str, m: Mapping[str, int]) -> tuple[Cell, ...]:
    new = m["received_online"] + m["received_direct"] + m["received_postal"]
    return (label, *(m[k] for k in METRICS),
            Percent(vi.share(m["received_online"], new)),
            Percent(vi.share(m["resolved_early"] + m["resolved_on_time"], m["resolved_total"])))


def _total(rows: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    return {k: sum(r[k] for r in rows.values()) for k in METRICS}


def form_table(title: str, rows: Mapping[str, Mapping[str, int]], names: Mapping[str, str],
               note: str = "", sheet: str = "") -> Table:
    body = [_form_row(names.get(code, code), rows[code]) for code in sorted(rows)]
    body.append(_form_row("Tổng cộng", _total(rows)))
    return Table(title, FORM_HEADER, tuple(body), note, sheet=sheet)


def statistics_paragraph(unit: str, result: ReconcileResult, m: Mapping[str, int],
                         basis: str) -> str:
    """The paragraph a centre writes by hand today, from the reconciled figures."""
    p = result.period
    new = m["received_online"] + m["received_direct"] + m["received_postal"]
    total = m["received_total"]
    on_time = m["resolved_early"] + m["resolved_on_time"]
    parts = [f"Từ ngày {vi.date(p.start)} đến ngày {vi.date(p.end)}, {unit} tiếp nhận "
             f"{vi.number(total)} hồ sơ"]
    detail = [f"{vi.number(m['received_online'])} hồ sơ trực tuyến",
              f"{vi.number(m['received_direct'])} hồ sơ trực tiếp"]
    if m["received_postal"]:
        detail.append(f"{vi.number(m['received_postal'])} hồ sơ qua bưu chính công ích")
    if m["carried_over"]:
        detail.insert(0, f"{vi.number(m['carried_over'])} hồ sơ kỳ trước chuyển qua")
    parts.append(f" (trong đó {', '.join(detail)})")
    parts.append(
        f"; đã giải quyết {vi.number(m['resolved_total'])} hồ sơ (đạt "
        f"{vi.percent(vi.share(m['resolved_total'], total))} số hồ sơ tiếp nhận), trong đó "
        f"{vi.number(m['resolved_early'])} hồ sơ trước hạn, {vi.number(m['resolved_on_time'])} hồ sơ "
        f"đúng hạn, {vi.number(m['resolved_late'])} hồ sơ quá hạn; tỷ lệ giải quyết đúng và trước "
        f"hạn {vi.percent(vi.share(on_time, m['resolved_total']))}")
    parts.append(
        f"; đang giải quyết {vi.number(m['pending_total'])} hồ sơ (trong đó "
        f"{vi.number(m['pending_overdue'])} hồ sơ quá hạn)")
    if m["withdrawn"] or m["rejected"]:
        parts.append(f"; rút {vi.number(m['withdrawn'])} hồ sơ, từ chối "
                     f"{vi.number(m['rejected'])} hồ sơ")
    parts.append(
        f". Tỷ lệ tiếp nhận trực tuyến {vi.number(m['received_online'])}/{vi.number(new)} = "
        f"{vi.percent(vi.share(m['received_online'], new))}. ({basis})")
    return "".join(parts)


def build(result: ReconcileResult, store: Store, config: Config, pm: Any = None,
          issued: dt.date | None = None) -> ReportContent:
    rep = config.report
    left, right = result.left.source, result.right.source
    names = dict(result.agency_names)
    sections: list[Section] = []

    # I. Figures.
    left_pub, right_pub = (dict(result.published[side]) for side in ("left", "right"))
    reconciled = {code: dict(m) for code, m in result.figures["left"].items()}
    main_figures = left_pub or reconciled
    basis = (f"số liệu công bố của {_source_name(left)}" if left_pub
             else f"số liệu tính từ hồ sơ của {_source_name(left)}")
    tables = []
    if left_pub:
        tables.append(form_table(f"Bảng 1. Số liệu công bố trên {_source_name(left)}", left_pub,
                                 names, sheet=f"B1 Công bố {vi.source_name(left, short=True)}"))
    if right_pub:
        n = len(tables) + 1
        tables.append(form_table(f"Bảng {n}. Số liệu công bố trên {_source_name(right)}",
                                 right_pub, names,
                                 sheet=f"B{n} Công bố {vi.source_name(right, short=True)}"))
    n = len(tables) + 1
    tables.append(form_table(
        f"Bảng {n}. Số liệu đối chiếu tính từ hồ sơ ({_source_name(left)})",
        reconciled, names,
        "Chỉ tính hồ sơ tiếp nhận trong kỳ; hồ sơ kỳ trước chuyển qua không có trong ảnh chụp.",
        sheet=f"B{n} Từ hồ sơ {vi.source_name(left, short=True)}"))
    sections.append(Section(
        "I. KẾT QUẢ TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ",
        (statistics_paragraph(rep.unit_name, result, _total(main_figures), f"Nguồn: {basis}"),),
        tuple(tables), (trend_chart(store.monthly_trend(result.left.source)),)))

    # II. Discrepancies.
    by_kind = result.by_kind()
    states = Counter(d.state for d in result.discrepancies)
    paragraphs = [
        f"Đối chiếu {vi.number(result.left_dossiers)} hồ sơ trên {_source_name(left)} với "
        f"{vi.number(result.right_dossiers)} hồ sơ trên {_source_name(right)}: khớp mã "
        f"{vi.number(result.matched)} hồ sơ, phát hiện {vi.number(len(result.discrepancies))} sai "
        f"lệch (mới phát sinh {vi.number(states['new'])}, tồn từ lần trước "
        f"{vi.number(states['open'])}); đã khắc phục {vi.number(len(result.resolved))} sai lệch "
        "kể từ lần đối chiếu trước."]
    if not result.discrepancies:
        paragraphs.append("Hai hệ thống khớp nhau hoàn toàn trong kỳ này.")
    kind_table = Table("Bảng sai lệch theo loại", ("Loại sai lệch", "Số lượng"),
                       (*((vi.DISCREPANCY_KINDS[k], n) for k, n in by_kind.items()),
                        ("Tổng cộng", len(result.discrepancies))), sheet="Sai lệch theo loại")
    dossier_rows = tuple(
        (i, d.dossier_code, names.get(d.agency_code, d.agency_code), vi.DISCREPANCY_KINDS[d.kind],
         vi.FIELD_NAMES.get(d.field or "", "—"), vi.field_value(d.field, d.left),
         vi.field_value(d.field, d.right), vi.DISCREPANCY_STATES[d.state], d.action)
        for i, d in enumerate((*result.discrepancies, *result.resolved), 1))
    dossier_table = Table(
        "Danh sách hồ sơ sai lệch",
        ("STT", "Mã hồ sơ", "Đơn vị", "Loại sai lệch", "Trường", _source_name(left),
         _source_name(right), "Tình trạng", "Đề xuất xử lý"),
        dossier_rows, shown=LIST_LIMIT, sheet="Hồ sơ sai lệch")
    per_agency = Counter(names.get(d.agency_code, d.agency_code) for d in result.discrepancies)
    top = per_agency.most_common(12)
    charts = (
        Chart("discrepancies_by_kind", "Sai lệch theo loại", "bar",
              tuple(vi.DISCREPANCY_KINDS[k] for k in by_kind),
              (("Số sai lệch", tuple(map(float, by_kind.values()))),)),
        Chart("discrepancies_by_agency", "Đơn vị có nhiều sai lệch nhất", "bar",
              tuple(n for n, _ in top), (("Số sai lệch", tuple(float(c) for _, c in top)),)),
    ) if result.discrepancies else ()
    sections.append(Section("II. SAI LỆCH GIỮA HAI HỆ THỐNG", tuple(paragraphs),
                            (kind_table, dossier_table), charts))

    # III. Figure comparisons.
    comparisons = result.aggregates
    comp_paragraphs = list(result.notes)
    if comparisons:
        unexplained = sum(1 for a in comparisons if a.unexplained)
        comp_paragraphs.append(
            f"Có {vi.number(len(comparisons))} chỉ tiêu lệch giữa hai nguồn; "
            f"{vi.number(len(comparisons) - unexplained)} chỉ tiêu được giải thích đầy đủ bằng các "
            f"hồ sơ sai lệch ở mục II, {vi.number(unexplained)} chỉ tiêu còn phần chưa giải thích.")
    else:
        comp_paragraphs.append("Số liệu tổng hợp của hai nguồn khớp nhau.")
    sections.append(Section("III. ĐỐI CHIẾU SỐ LIỆU TỔNG HỢP", tuple(comp_paragraphs), (Table(
        "Chỉ tiêu lệch giữa hai nguồn",
        ("Đơn vị", "Chỉ tiêu", _source_name(left), _source_name(right), "Chênh lệch",
         "Giải thích bằng hồ sơ", "Chưa giải thích", "Số hồ sơ liên quan"),
        tuple((names.get(a.agency_code, a.agency_code), METRIC_NAMES_VI[a.metric], a.left, a.right,
               a.difference, a.explained, a.unexplained, len(a.explained_by))
              for a in comparisons), shown=LIST_LIMIT, sheet="Chỉ tiêu lệch hai nguồn"),)))

    # IV. Consistency rules.
    violations = result.rule_violations
    sections.append(Section(
        "IV. KIỂM TRA TÍNH NHẤT QUÁN CỦA SỐ LIỆU",
        (f"Phát hiện {vi.number(len(violations))} trường hợp số liệu không thỏa các phép cộng bắt "
         "buộc của biểu mẫu báo cáo hoặc quy tắc bổ sung." if violations
         else "Số liệu công bố thỏa mọi phép cộng bắt buộc của biểu mẫu báo cáo.",),
        (Table("Vi phạm quy tắc", ("Quy tắc", "Nguồn", "Đơn vị", "Nội dung"),
               tuple((vi.rule_name(v.rule), _source_name(v.source),
                      names.get(v.agency_code, v.agency_code), v.detail) for v in violations),
               shown=LIST_LIMIT, sheet="Vi phạm quy tắc"),)))

    # V. The 766 index.
    sections.append(_index_section(store, result, names))

    # Plugin sections, then what to do first.
    for extra in (pm.hook.nq57sync_report_sections(result=result, config=config) if pm else []):
        for s in sorted(extra or [], key=lambda s: s.order):
            sections.append(_from_plugin(s))
    sections.append(Section(f"{_roman(len(sections) + 1)}. ĐỀ XUẤT, KIẾN NGHỊ",
                            tuple(_first_steps(result, names))))
    return ReportContent(
        parent_body=rep.parent_body or "ỦY BAN NHÂN DÂN", unit_name=rep.unit_name,
        place=rep.place, issued=issued or dt.datetime.now(VN_TZ).date(),
        title="BÁO CÁO",
        subtitle="Kết quả đối chiếu số liệu giải quyết thủ tục hành chính giữa "
                 f"{_source_name(left)} và {_source_name(right)}",
        period_line=result.period.describe_vi(), sections=tuple(sections),
        recipients=rep.recipients or ("Như trên;", "Lưu: VT."),
        signer_title=rep.signer_title, signer_name=rep.signer_name)


def _roman(n: int) -> str:
    return ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X", "XI", "XII"][n - 1]


def _from_plugin(s: ReportSection) -> Section:
    table = (Table(s.title, tuple(s.table[0]), tuple(tuple(r) for r in s.table[1:])),) if s.table else ()
    return Section(s.title, tuple(s.paragraphs), table)


def trend_chart(rows: list[dict[str, Any]]) -> Chart:
    """Received, resolved and late by month (rows of `Store.monthly_trend`)."""
    this_month = f"{dt.datetime.now(VN_TZ):%Y-%m}"
    return Chart("trend", "Hồ sơ theo tháng tiếp nhận", "line",
                 tuple(f"{r['month'][5:]}/{r['month'][:4]}"
                       + (" (chưa hết tháng)" if r["month"] >= this_month else "") for r in rows),
                 (("Tiếp nhận", tuple(float(r["received"]) for r in rows)),
                  ("Đã giải quyết", tuple(float(r["resolved"]) for r in rows)),
                  ("Giải quyết quá hạn", tuple(float(r["late"]) for r in rows))),
                 "Số hồ sơ")


def _index_section(store: Store, result: ReconcileResult, names: Mapping[str, str]) -> Section:
    history = [{"id": s.id} for s in store.index_snapshots(max(result.left.id,
                                                                 result.right.id))]
    if not history:
        return Section("V. BỘ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP (766)",
                       ("Chưa có ảnh chụp nào chứa điểm Bộ chỉ số 766.",))
    latest = store.index_scores(history[0]["id"])
    previous = {s.agency_code: s.total for s in store.index_scores(history[1]["id"])} if len(
        history) > 1 else {}
    groups = list(INDEX_MAXIMA)
    def score(value: float | None) -> float | None:
        return None if value is None else round(value, 2)

    rows = tuple(
        (s.rank, names.get(s.agency_code, s.name), *(score(s.groups.get(g)) for g in groups),
         score(s.total),
         None if s.agency_code not in previous else round(s.total - previous[s.agency_code], 2))
        for s in sorted(latest, key=lambda s: (s.rank or 10**6)))
    averages = tuple(sum(s.groups.get(g, 0) for s in latest) / len(latest) for g in groups)
    best = max(latest, key=lambda s: s.total)
    worst = min(latest, key=lambda s: s.total)
    return Section(
        "V. BỘ CHỈ SỐ PHỤC VỤ NGƯỜI DÂN, DOANH NGHIỆP (766)",
        (f"Theo ảnh chụp số {history[0]['id']}, điểm trung bình của {vi.number(len(latest))} đơn vị "
         f"là {vi.number(sum(s.total for s in latest) / len(latest), 2)}/100; cao nhất "
         f"{names.get(best.agency_code, best.name)} ({vi.number(best.total, 2)}), thấp nhất "
         f"{names.get(worst.agency_code, worst.name)} ({vi.number(worst.total, 2)}).",),
        (Table("Điểm Bộ chỉ số 766 theo đơn vị",
               ("Xếp hạng", "Đơn vị", *(f"{INDEX_GROUPS_VI[g]} (tối đa {INDEX_MAXIMA[g]})"
                                         for g in groups), "Tổng điểm", "Thay đổi so với lần trước"),
               rows, shown=LIST_LIMIT, sheet="Chỉ số 766"),),
        (Chart("index_groups", "Điểm trung bình theo nhóm chỉ số 766", "bar",
               tuple(INDEX_GROUPS_VI[g] for g in groups),
               (("Điểm trung bình", averages), ("Điểm tối đa", tuple(float(INDEX_MAXIMA[g])
                                                                    for g in groups))),
               "Điểm"),))


def _first_steps(result: ReconcileResult, names: Mapping[str, str]) -> list[str]:
    """One sentence per agency: the first thing to do."""
    by_agency: dict[str, Counter[str]] = defaultdict(Counter)
    for d in result.discrepancies:
        by_agency[d.agency_code][d.kind] += 1
    sentences = []
    advice = {
        "missing_in_right": "đồng bộ lại {n} hồ sơ chưa có trên {theirs}",
        "missing_in_left": "xác minh {n} hồ sơ có trên {theirs} nhưng không có trong {ours}",
        "status_mismatch": "đồng bộ lại trạng thái của {n} hồ sơ lệch trạng thái",
        "timeliness_mismatch": "rà soát thời điểm kết thúc xử lý của {n} hồ sơ lệch đúng hạn/quá hạn",
        "channel_mismatch": "sửa kênh tiếp nhận của {n} hồ sơ",
        "procedure_mismatch": "sửa mã thủ tục của {n} hồ sơ",
        "agency_mismatch": "sửa đơn vị xử lý của {n} hồ sơ",
        "date_mismatch": "cập nhật ngày tháng của {n} hồ sơ lệch ngày",
        "sync_pending": "theo dõi {n} hồ sơ đang chờ đồng bộ tự động",
    }
    ranked = sorted(by_agency.items(), key=lambda item: -sum(item[1].values()))
    for code, kinds in ranked:
        kind, n = max(kinds.items(), key=lambda kv: (kv[1] * (kv[0] != "sync_pending"), kv[1]))
        step = advice[kind].format(n=vi.number(n), ours=_source_name(result.left.source),
                                   theirs=_source_name(result.right.source))
        sentences.append(f"{names.get(code, code)}: trước hết {step}"
                         f" (tổng cộng {vi.number(sum(kinds.values()))} sai lệch).")
    if not sentences:
        sentences.append("Các đơn vị tiếp tục duy trì đồng bộ đầy đủ, kịp thời hồ sơ lên "
                         f"{_source_name(result.right.source)}.")
    return sentences


def table_rows(table: Table, limit: bool = True) -> Sequence[tuple[Cell, ...]]:
    return table.rows[: table.shown] if limit and table.shown else table.rows
