"""A reconciliation result for people (a Vietnamese table) and for spreadsheets (CSV)."""

from __future__ import annotations

import csv
import io

from nq57sync import vi
from nq57sync.coverage import Coverage
from nq57sync.model import Snapshot
from nq57sync.reconcile import ReconcileResult
from nq57sync.rules import METRIC_NAMES_VI
from nq57sync.text import csv_safe

SHOWN = 60


def render_csv(result: ReconcileResult, columns: tuple[str, ...]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in result.as_json()["discrepancies"]:
        writer.writerow({k: "" if row[k] is None else csv_safe(row[k]) for k in columns})
    return out.getvalue()


def render_table(result: ReconcileResult, width: int | None = None) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), width=width or 160, record=True, color_system=None)
    p = result.period
    def used(snapshot: Snapshot, found: Coverage | None) -> str:
        snapshots = found.used if found else (snapshot,)
        return "ảnh chụp " + ", ".join(f"số {s.id} ({s.period.label})" for s in snapshots)

    console.print(
        f"Đối chiếu {vi.source_name(result.left.source)} ({used(result.left, result.left_cover)})"
        f" với {vi.source_name(result.right.source)} "
        f"({used(result.right, result.right_cover)}), {p.describe_vi().lower()}.",
        highlight=False)
    console.print(
        f"Hồ sơ: {vi.number(result.left_dossiers)} bên {result.left.source}, "
        f"{vi.number(result.right_dossiers)} bên {result.right.source}, khớp mã "
        f"{vi.number(result.matched)}; {vi.number(len(result.discrepancies))} sai lệch"
        f" ({vi.number(sum(d.state == 'new' for d in result.discrepancies))} mới), "
        f"{vi.number(len(result.resolved))} đã khắc phục từ lần trước.", highlight=False)
    for note in result.notes:
        console.print(f"Lưu ý: {note}", highlight=False)
    if result.discrepancies:
        kinds = Table(title="Sai lệch theo loại", title_justify="left")
        kinds.add_column("Loại")
        kinds.add_column("Số lượng", justify="right")
        for kind, count in result.by_kind().items():
            kinds.add_row(vi.DISCREPANCY_KINDS[kind], vi.number(count))
        console.print(kinds)
        table = Table(title="Danh sách sai lệch", title_justify="left")
        for header in ("Loại", "Mã hồ sơ", "Đơn vị", "Trường", result.left.source,
                       result.right.source, "Tình trạng", "Việc cần làm"):
            table.add_column(header, overflow="fold")
        for d in result.discrepancies[:SHOWN]:
            table.add_row(vi.DISCREPANCY_KINDS[d.kind], d.dossier_code, d.agency_code,
                          vi.FIELD_NAMES.get(d.field or "", ""), d.left or "—", d.right or "—",
                          vi.DISCREPANCY_STATES[d.state], d.action)
        console.print(table)
        if len(result.discrepancies) > SHOWN:
            console.print(f"… và {vi.number(len(result.discrepancies) - SHOWN)} sai lệch khác "
                          "(dùng --format csv để xem đủ).", highlight=False)
    else:
        console.print("Không có sai lệch nào giữa hai nguồn.")
    unexplained = [a for a in result.aggregates if a.unexplained]
    if result.aggregates:
        console.print(
            f"Số liệu: {vi.number(len(result.aggregates))} chỉ tiêu lệch giữa hai nguồn "
            f"(so sánh {'số công bố' if result.aggregates[0].basis == 'published' else 'số tính từ hồ sơ'}"
            f"), {vi.number(len(unexplained))} còn phần chưa giải thích được bằng hồ sơ.",
            highlight=False)
        for a in unexplained[:10]:
            console.print(
                f"  {a.agency_code}, {METRIC_NAMES_VI[a.metric]}: {vi.number(a.left)} so với "
                f"{vi.number(a.right)}, chưa giải thích {vi.number(a.unexplained)}.", highlight=False)
    if result.rule_violations:
        console.print(f"Vi phạm quy tắc số học: {vi.number(len(result.rule_violations))}.",
                      highlight=False)
        for v in result.rule_violations[:10]:
            console.print(f"  [{v.rule}] {v.source}: {v.detail}", highlight=False, markup=False)
    return console.export_text()
