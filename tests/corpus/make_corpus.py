"""Rebuild the binary reports of the check-report corpus (deterministic).

Run: ``.venv/bin/python tests/corpus/make_corpus.py``

Writes, beside this file, three Word reports and one PDF in the style of Hải Phòng
commune and ward service centres (fictional figures). Their truth files
(``<name>.truth.json``) are written by hand, not by this script: the figures
below are what a centre would print, including the errors planted on purpose
(see README.md). Re-running gives byte-identical files.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path

import docx
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Mm, Pt

HERE = Path(__file__).resolve().parent
FIXED = dt.datetime(2025, 12, 20, 8, 0, 0)


# --------------------------------------------------------------------------- docx helpers


def new_document() -> docx.Document:
    d = docx.Document()
    s = d.sections[0]
    s.page_height, s.page_width = Mm(297), Mm(210)
    s.top_margin, s.bottom_margin, s.left_margin, s.right_margin = Mm(20), Mm(20), Mm(30), Mm(15)
    st = d.styles["Normal"]
    st.font.name = "Times New Roman"
    st.font.size = Pt(13)
    cp = d.core_properties
    cp.author = "Trung tâm Phục vụ hành chính công"
    cp.created = cp.modified = FIXED
    cp.last_modified_by = "Trung tâm Phục vụ hành chính công"
    cp.revision = 1
    return d


def para(d, text: str, *, bold: bool = False, center: bool = False, italic: bool = False):
    p = d.add_paragraph()
    run = p.add_run(text)
    run.bold = bold
    run.italic = italic
    if center:
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
    return p


def national_header(d, left_top: str, left_bottom: str, number: str, place_date: str) -> None:
    """The two-column header every administrative document opens with (a table)."""
    t = d.add_table(rows=3, cols=2)
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    t.cell(0, 0).text = left_top
    t.cell(0, 1).text = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    t.cell(1, 0).text = left_bottom
    t.cell(1, 1).text = "Độc lập - Tự do - Hạnh phúc"
    t.cell(2, 0).text = number
    t.cell(2, 1).text = place_date


def signature(d, recipients: list[str], role: str, name: str) -> None:
    t = d.add_table(rows=1, cols=2)
    t.cell(0, 0).text = "Nơi nhận:\n" + "\n".join(recipients)
    t.cell(0, 1).text = f"{role}\n\n\n{name}"


def grid(d, rows: int, cols: int):
    t = d.add_table(rows=rows, cols=cols)
    t.style = "Table Grid"
    return t


def put(t, r: int, c: int, text: str) -> None:
    t.cell(r, c).text = text


def merge(t, r0: int, c0: int, r1: int, c1: int, text: str) -> None:
    cell = t.cell(r0, c0).merge(t.cell(r1, c1))
    cell.text = text


def vn(n: int) -> str:
    """1234 -> '1.234' (Vietnamese thousands)."""
    return f"{n:,}".replace(",", ".")


def rate(num: int, den: int) -> str:
    """Share with one decimal, Vietnamese comma; a whole 100 is printed '100%'."""
    if num == den:
        return "100%"
    return f"{num / den * 100:.1f}".replace(".", ",") + "%"


def save_docx(d, path: Path) -> None:
    """Save with fixed zip timestamps so that rebuilding gives the same bytes."""
    buf = io.BytesIO()
    d.save(buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(2025, 12, 20, 8, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(fixed, src.read(info.filename))
    path.write_bytes(out.getvalue())


# --------------------------------------------------------------------------- report 1

# (group, field, online, direct, early, on_time, late, pending); resolved = early + on_time + late
AN_BIEN = [
    ("Tư pháp - Hộ tịch", "Hộ tịch", 1105, 131, 1102, 107, 11, 14),
    ("Tư pháp - Hộ tịch", "Chứng thực", 1843, 457, 2180, 120, 0, 0),
    ("Đất đai - Xây dựng", "Đất đai", 612, 188, 596, 88, 41, 71),
    ("Đất đai - Xây dựng", "Xây dựng", 12, 0, 12, 0, 0, 0),
    ("Văn hóa - Xã hội", "Bảo trợ xã hội", 234, 48, 275, 0, 0, 7),
    ("Văn hóa - Xã hội", "Người có công", 20, 25, 25, 0, 0, 18),
    ("Kinh tế", "Hộ kinh doanh", 135, 10, 140, 5, 0, 0),
]
AN_BIEN_PENDING_PRINTED = "101"  # planted: the rows add up to 110


def report_an_bien(out: Path) -> None:
    d = new_document()
    national_header(
        d,
        "UBND PHƯỜNG AN BIÊN",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
        "Số: 118/BC-TTPVHCC",
        "Hải Phòng, ngày 18 tháng 11 năm 2025",
    )
    para(d, "BÁO CÁO", bold=True, center=True)
    para(d, "Kết quả tiếp nhận, giải quyết thủ tục hành chính tháng 11 năm 2025", bold=True, center=True)
    para(d, "I. KẾT QUẢ TIẾP NHẬN, GIẢI QUYẾT HỒ SƠ", bold=True)
    para(
        d,
        "Từ ngày 15/10/2025 đến ngày 14/11/2025, Trung tâm Phục vụ hành chính công phường tiếp nhận "
        "4.820 hồ sơ thủ tục hành chính, trong đó 3.961 hồ sơ trực tuyến, 859 hồ sơ trực tiếp; "
        "đã giải quyết 4.702 hồ sơ (tỷ lệ 97,6%).",
    )
    para(
        d,
        "Tỷ lệ hồ sơ tiếp nhận trực tuyến đạt 82,2%, cao hơn chỉ tiêu thành phố giao (80%); số hồ sơ "
        "nộp trực tiếp tại Trung tâm là 859 hồ sơ, chủ yếu thuộc lĩnh vực chứng thực.",
    )
    para(
        d,
        "Trong 4.702 hồ sơ đã giải quyết, có 4.650 hồ sơ giải quyết trước hạn và đúng hạn (đạt 98,9%), "
        "52 hồ sơ quá hạn (đất đai 41 hồ sơ, hộ tịch 11 hồ sơ).",
    )
    para(
        d,
        "Công tác số hóa hồ sơ, kết quả giải quyết: đã số hóa 4.767/4.820 hồ sơ, tỷ lệ số hóa đạt 98,9%. "
        "Có 08 hồ sơ công dân rút theo đề nghị.",
    )
    para(d, "(Chi tiết tại Phụ lục kèm theo)", italic=True)
    para(d, "II. KHÓ KHĂN, VƯỚNG MẮC", bold=True)
    para(
        d,
        "- Hệ thống Cổng Dịch vụ công quốc gia có thời điểm chưa đồng bộ với Hệ thống thông tin giải "
        "quyết thủ tục hành chính của thành phố, trạng thái một số hồ sơ đất đai chưa được cập nhật "
        "kịp thời.",
    )
    para(
        d,
        "- Đường truyền tại điểm tiếp nhận còn chậm vào giờ cao điểm; lượt tra cứu Cơ sở dữ liệu quốc gia "
        "về dân cư trong ngày thường hết trước 15 giờ.",
    )
    para(d, "III. PHƯƠNG HƯỚNG THÁNG 12 NĂM 2025", bold=True)
    para(
        d,
        "- Rà soát, xử lý dứt điểm hồ sơ đất đai đang giải quyết; phối hợp đồng bộ trạng thái hồ sơ "
        "trước ngày chốt số liệu.",
    )
    para(d, "PHỤ LỤC", bold=True, center=True)
    para(
        d,
        "Kết quả giải quyết thủ tục hành chính theo lĩnh vực (từ ngày 15/10/2025 đến ngày 14/11/2025)",
        italic=True,
        center=True,
    )
    n = len(AN_BIEN)
    t = grid(d, 2 + n + 1, 12)
    merge(t, 0, 0, 1, 0, "STT")
    merge(t, 0, 1, 1, 1, "Nhóm lĩnh vực")
    merge(t, 0, 2, 1, 2, "Lĩnh vực")
    merge(t, 0, 3, 0, 5, "Số hồ sơ nhận giải quyết")
    merge(t, 0, 6, 0, 9, "Số hồ sơ đã giải quyết")
    merge(t, 0, 10, 1, 10, "Tỷ lệ đúng hạn")
    leaves = ["Tổng số", "Trực tuyến", "Trực tiếp", "Tổng số", "Trước hạn", "Đúng hạn", "Quá hạn"]
    for j, h in enumerate(leaves):
        put(t, 1, 3 + j, h)
    merge(t, 0, 11, 1, 11, "Đang giải quyết")
    totals = [0] * 8
    start = 2
    for i, (_group, field, on, dr, early, ontime, late, pend) in enumerate(AN_BIEN):
        r = start + i
        res = early + ontime + late
        put(t, r, 0, str(i + 1))
        put(t, r, 2, field)
        vals = [on + dr, on, dr, res, early, ontime, late]
        for j, v in enumerate(vals):
            put(t, r, 3 + j, vn(v))
        put(t, r, 10, rate(early + ontime, res))
        put(t, r, 11, vn(pend))
        for j, v in enumerate([*vals, pend]):
            totals[j] += v
    # vertical merges of the group labels
    r = start
    while r < start + n:
        g = AN_BIEN[r - start][0]
        end = r
        while end + 1 < start + n and AN_BIEN[end + 1 - start][0] == g:
            end += 1
        merge(t, r, 1, end, 1, g)
        r = end + 1
    last = start + n
    merge(t, last, 0, last, 2, "Tổng cộng")
    for j, v in enumerate(totals[:7]):
        put(t, last, 3 + j, vn(v))
    put(t, last, 10, rate(totals[4] + totals[5], totals[3]))
    put(t, last, 11, AN_BIEN_PENDING_PRINTED)
    para(
        d,
        "Ghi chú: Số liệu tổng hợp từ Hệ thống thông tin giải quyết thủ tục hành chính thành phố, chốt ngày "
        "14/11/2025; số hồ sơ đang giải quyết được chuyển sang kỳ báo cáo sau.",
        italic=True,
    )
    signature(
        d,
        ["- UBND phường (để b/c);", "- Văn phòng UBND thành phố;", "- Lưu: VT, TTPVHCC."],
        "GIÁM ĐỐC",
        "Nguyễn Thị Thu Hà",
    )
    save_docx(d, out / "phuong-an-bien-thang-11-2025.docx")


# --------------------------------------------------------------------------- report 2

# (label, online, direct, resolved, early, on_time, late)
KIEN_THUY = [
    ("Tháng 10/2025", 990, 160, 1121, 1020, 98, 3),
    ("Tháng 11/2025", 1013, 191, 1180, 1101, 78, 1),
    ("Tháng 12/2025", 1037, 224, 1239, 1150, 89, 0),
]
KIEN_THUY_DEVICES = [
    ("Máy tính để bàn", 12),
    ("Máy in", 4),
    ("Máy quét tài liệu", 3),
    ("Màn hình tra cứu", 2),
]


def report_kien_thuy(out: Path) -> None:
    d = new_document()
    national_header(
        d,
        "UBND XÃ KIẾN THỤY",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
        "Số: 64/BC-TTPVHCC",
        "Hải Phòng, ngày 16 tháng 12 năm 2025",
    )
    para(d, "BÁO CÁO", bold=True, center=True)
    para(d, "Kết quả hoạt động của Trung tâm Phục vụ hành chính công quý IV năm 2025", bold=True, center=True)
    para(d, "1. Kết quả tiếp nhận, giải quyết thủ tục hành chính", bold=True)
    para(
        d,
        "Quý IV năm 2025 (từ ngày 15/9/2025 đến ngày 14/12/2025), Trung tâm tiếp nhận 3.615 hồ sơ; "
        "đã giải quyết 3.540 hồ sơ, đang giải quyết 68 hồ sơ, từ chối 07 hồ sơ.",
    )
    para(
        d,
        "Tỷ lệ hồ sơ trực tuyến cả quý đạt 84,1% (3.040/3.615 hồ sơ). Tỷ lệ giải quyết trước hạn, "
        "đúng hạn cả quý đạt 99,9%.",
    )
    para(
        d,
        "Riêng tháng 11/2025, Trung tâm tiếp nhận 1.204 hồ sơ (1.013 trực tuyến, 191 trực tiếp), là tháng "
        "cao điểm do nhu cầu đăng ký biến động đất đai cuối năm.",
    )
    para(
        d,
        "Trong quý có 04 hồ sơ bị tính quá hạn (03 hồ sơ tháng 10, 01 hồ sơ tháng 11); thực tế các hồ sơ này "
        "đã trả kết quả đúng hẹn nhưng do đường truyền chậm, công chức chưa kịp chuyển bước trên hệ thống.",
    )
    para(d, "2. Thực hiện Kế hoạch chuyển đổi số năm 2025 của xã", bold=True)
    para(d, "Giai đoạn 1: được giao 12 nhiệm vụ")
    para(d, "- 12/12 nhiệm vụ hoàn thành;")
    para(d, "- 12 nhiệm vụ đang triển khai, dự kiến hoàn thành trong quý I/2026.")
    para(d, "Giai đoạn 2: được giao 08 nhiệm vụ")
    para(d, "- 05/08 nhiệm vụ hoàn thành;")
    para(d, "- 03 nhiệm vụ đang triển khai.")
    para(d, "3. Cơ sở vật chất", bold=True)
    para(
        d,
        "Trung tâm được bố trí tại trụ sở UBND xã, diện tích khu tiếp nhận 120 m²; trang thiết bị theo "
        "Phụ lục 2.",
    )
    para(d, "PHỤ LỤC 1. KẾT QUẢ GIẢI QUYẾT HỒ SƠ THEO THÁNG", bold=True, center=True)
    n = len(KIEN_THUY)
    t = grid(d, 2 + n + 1, 9)
    merge(t, 0, 0, 1, 0, "Kỳ báo cáo")
    merge(t, 0, 1, 0, 3, "Số hồ sơ nhận giải quyết")
    merge(t, 0, 4, 1, 4, "Đã giải quyết")
    merge(t, 0, 5, 0, 7, "Kết quả giải quyết")
    merge(t, 0, 8, 1, 8, "Tỷ lệ đúng hạn")
    for j, h in enumerate(["Tổng số", "Trực tuyến", "Trực tiếp"]):
        put(t, 1, 1 + j, h)
    for j, h in enumerate(["Trước hạn", "Đúng hạn", "Quá hạn"]):
        put(t, 1, 5 + j, h)
    tot = [0] * 7
    for i, (label, on, dr, res, early, ontime, late) in enumerate(KIEN_THUY):
        r = 2 + i
        assert res == early + ontime + late
        vals = [on + dr, on, dr, res, early, ontime, late]
        put(t, r, 0, label)
        for j, v in enumerate(vals):
            put(t, r, 1 + j, vn(v))
        put(t, r, 8, rate(early + ontime, res))
        tot = [a + b for a, b in zip(tot, vals, strict=True)]
    last = 2 + n
    put(t, last, 0, "Tổng cộng")
    for j, v in enumerate(tot):
        put(t, last, 1 + j, vn(v))
    put(t, last, 8, rate(tot[4] + tot[5], tot[3]))
    para(d, "PHỤ LỤC 2. NHÂN SỰ VÀ TRANG THIẾT BỊ", bold=True, center=True)
    t2 = grid(d, 3, 2)
    put(t2, 0, 0, "Nội dung")
    put(t2, 0, 1, "Chi tiết")
    put(t2, 1, 0, "Nhân sự")
    put(t2, 1, 1, "01 Giám đốc, 01 Phó Giám đốc; công chức các lĩnh vực làm việc theo lịch trực.")
    put(t2, 2, 0, "Trang thiết bị")
    cell = t2.cell(2, 1)
    cell.paragraphs[0].text = "Trang thiết bị hiện có:"
    nested = cell.add_table(rows=len(KIEN_THUY_DEVICES) + 2, cols=2)
    nested.style = "Table Grid"
    nested.cell(0, 0).text = "Loại thiết bị"
    nested.cell(0, 1).text = "Số lượng"
    for i, (k, v) in enumerate(KIEN_THUY_DEVICES):
        nested.cell(1 + i, 0).text = k
        nested.cell(1 + i, 1).text = f"{v:02d}"
    nested.cell(len(KIEN_THUY_DEVICES) + 1, 0).text = "Tổng cộng"
    nested.cell(len(KIEN_THUY_DEVICES) + 1, 1).text = str(sum(v for _, v in KIEN_THUY_DEVICES))
    cell.add_paragraph("(trang bị từ tháng 7/2025)")
    para(
        d,
        "Số liệu Phụ lục 1 chốt theo kỳ báo cáo của Nghị định số 09/2019/NĐ-CP (từ ngày 15 tháng trước "
        "đến ngày 14 tháng báo cáo).",
        italic=True,
    )
    signature(d, ["- UBND xã;", "- Lưu: VT."], "GIÁM ĐỐC", "Phạm Văn Thắng")
    save_docx(d, out / "xa-kien-thuy-quy-4-2025.docx")


# --------------------------------------------------------------------------- report 3

# (agency group, unit, carried, online, direct, early, on_time, late, within, overdue)
HONG_BANG = [
    ("UBND phường", "Văn phòng HĐND và UBND", 10, 6020, 1310, 7010, 300, 12, 18, 0),
    ("UBND phường", "Phòng Kinh tế, Hạ tầng và Đô thị", 62, 1402, 436, 1205, 460, 75, 151, 9),
    ("UBND phường", "Phòng Văn hóa - Xã hội", 14, 1792, 254, 1990, 31, 0, 39, 0),
    ("Cơ quan ngành dọc", "Công an phường", 8, 840, 317, 1100, 28, 0, 37, 0),
    ("Cơ quan ngành dọc", "Bảo hiểm xã hội", 2, 160, 108, 240, 9, 0, 21, 0),
]
HONG_BANG_RATE_PRINTED = {"Phòng Kinh tế, Hạ tầng và Đô thị": "97,5"}  # planted: the figures give 95,7


def rate_plain(num: int, den: int) -> str:
    return "100" if num == den else f"{num / den * 100:.1f}".replace(".", ",")


def report_hong_bang(out: Path) -> None:
    d = new_document()
    national_header(
        d,
        "UBND PHƯỜNG HỒNG BÀNG",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG",
        "Số: 205/BC-TTPVHCC",
        "Hải Phòng, ngày 19 tháng 12 năm 2025",
    )
    para(d, "BÁO CÁO", bold=True, center=True)
    para(d, "Tổng kết công tác kiểm soát thủ tục hành chính năm 2025", bold=True, center=True)
    para(d, "I. TÌNH HÌNH TIẾP NHẬN HỒ SƠ", bold=True)
    para(
        d,
        "Từ ngày 15/12/2024 đến ngày 14/12/2025, các đơn vị tiếp nhận tại Trung tâm 12.735 hồ sơ, gồm: "
        "96 hồ sơ kỳ trước chuyển qua, 10.214 hồ sơ tiếp nhận trực tuyến, 2.425 hồ sơ tiếp nhận trực tiếp.",
    )
    para(d, "Tỷ lệ tiếp nhận trực tuyến đạt 80,8% (10.214/12.639 hồ sơ mới tiếp nhận).")
    para(d, "II. KẾT QUẢ GIẢI QUYẾT", bold=True)
    para(d, "Trong năm, các đơn vị đã giải quyết 12.406 hồ sơ.")
    para(
        d,
        "Tỷ lệ giải quyết trước hạn, đúng hạn đạt 99,3%; số hồ sơ quá hạn là 87 hồ sơ, tập trung ở Phòng "
        "Kinh tế, Hạ tầng và Đô thị (75 hồ sơ) do vướng mắc xác minh nguồn gốc đất.",
    )
    para(d, "(Chi tiết tại Phụ lục)", italic=True)
    para(d, "III. TỔ CHỨC, NHÂN SỰ VÀ NHIỆM VỤ", bold=True)
    para(
        d,
        "Tổng số cán bộ, công chức, viên chức và người lao động làm việc tại Trung tâm: 42 người gồm: "
        "02 lãnh đạo Trung tâm; tổ Hành chính - Tổng hợp: 04; tổ Tiếp nhận và trả kết quả 11/12; tổ Số hóa "
        "07/08; công chức các phòng chuyên môn làm việc luân phiên theo lịch (số có mặt/tổng số tại ngày "
        "kiểm tra 28/11/2025).",
    )
    para(d, "Năm 2025, Trung tâm được giao 16 nhiệm vụ:")
    para(d, "- Hoàn thành 14 nhiệm vụ;")
    para(d, "- Đang triển khai 02 nhiệm vụ (chuyển tiếp sang năm 2026).")
    para(d, "PHỤ LỤC", bold=True, center=True)
    para(d, "Tình hình giải quyết thủ tục hành chính năm 2025 theo đơn vị", italic=True, center=True)
    n = len(HONG_BANG)
    t = grid(d, 3 + n + 1, 15)
    merge(t, 0, 0, 1, 0, "STT")
    merge(t, 0, 1, 1, 1, "Cơ quan")
    merge(t, 0, 2, 1, 2, "Đơn vị")
    merge(t, 0, 3, 0, 6, "Số hồ sơ nhận giải quyết")
    merge(t, 0, 7, 0, 10, "Số hồ sơ đã giải quyết")
    merge(t, 0, 11, 0, 13, "Số hồ sơ đang giải quyết")
    merge(t, 0, 14, 1, 14, "Tỷ lệ đúng hạn (%)")
    leaves = ["Tổng số", "Kỳ trước chuyển qua", "Trực tuyến", "Trực tiếp", "Tổng số", "Trước hạn",
              "Đúng hạn", "Quá hạn", "Tổng số", "Trong hạn", "Quá hạn"]
    for j, h in enumerate(leaves):
        put(t, 1, 3 + j, h)
    numbers = ["(1)", "(2)", "(3)", "(4)=(5)+(6)+(7)", "(5)", "(6)", "(7)", "(8)=(9)+(10)+(11)", "(9)",
               "(10)", "(11)", "(12)=(13)+(14)", "(13)", "(14)", "(15)"]
    for j, h in enumerate(numbers):
        put(t, 2, j, h)
    tot = [0] * 11
    for i, (_, unit, car, on, dr, early, ontime, late, within, over) in enumerate(HONG_BANG):
        r = 3 + i
        vals = [car + on + dr, car, on, dr]
        vals += [early + ontime + late, early, ontime, late, within + over, within, over]
        assert vals[0] == vals[4] + vals[8]
        put(t, r, 0, str(i + 1))
        put(t, r, 2, unit)
        for j, v in enumerate(vals):
            put(t, r, 3 + j, vn(v))
        put(t, r, 14, HONG_BANG_RATE_PRINTED.get(unit, rate_plain(early + ontime, vals[4])))
        tot = [a + b for a, b in zip(tot, vals, strict=True)]
    merge(t, 3, 1, 5, 1, "UBND phường")
    merge(t, 6, 1, 7, 1, "Cơ quan ngành dọc")
    last = 3 + n
    merge(t, last, 0, last, 2, "Tổng cộng")
    for j, v in enumerate(tot):
        put(t, last, 3 + j, vn(v))
    put(t, last, 14, rate_plain(tot[5] + tot[6], tot[4]))
    para(d, "Ghi chú: Cột (15) = [(9) + (10)] / (8) × 100.", italic=True)
    signature(
        d,
        ["- UBND phường;", "- Văn phòng UBND thành phố (Phòng Kiểm soát TTHC);", "- Lưu: VT."],
        "GIÁM ĐỐC",
        "Trần Minh Đức",
    )
    save_docx(d, out / "phuong-hong-bang-nam-2025.docx")


# --------------------------------------------------------------------------- report 4 (PDF)

TIEN_LANG_PAGES = [
    [
        "UBND XÃ TIÊN LÃNG                       CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM",
        "TRUNG TÂM PHỤC VỤ HÀNH CHÍNH CÔNG               Độc lập - Tự do - Hạnh phúc",
        "Số: 97/BC-TTPVHCC                     Hải Phòng, ngày 05 tháng 12 năm 2025",
        "BÁO CÁO",
        "Kết quả giải quyết thủ tục hành chính tháng 11 năm 2025",
        "1. Tình hình tiếp nhận",
        "Từ ngày 01/11/2025 đến ngày 30/11/2025 (số liệu theo tháng dương lịch của",
        "Cổng Dịch vụ công quốc gia), Trung tâm tiếp nhận 2.958 hồ sơ, trong đó: trực",
        "tuyến 2.496 hồ sơ, trực tiếp 447 hồ sơ, bưu chính công ích 15 hồ sơ.",
        "Tỷ lệ tiếp nhận trực tuyến đạt 84,4%.",
        "Tổng số hồ sơ tiếp nhận: 2.958 hồ sơ, cụ thể:",
        "- Đã giải quyết: 2.871 hồ sơ;",
        "- Đang giải quyết: 80 hồ sơ;",
        "- Rút hồ sơ: 07 hồ sơ.",
        "2. Kết quả giải quyết",
        "Đã giải quyết 2.871 hồ sơ, trong đó trước hạn 2.106 hồ sơ, đúng hạn 749 hồ sơ,",
        "quá hạn 16 hồ sơ. Số hồ sơ giải quyết trước hạn và đúng hạn là 2.855 hồ sơ,",
        "đạt tỷ lệ 99,8%.",
        "3. Thủ tục hành chính và chuyển đổi số",
        "Xã đang thực hiện 412 thủ tục hành chính, gồm 236 TTHC cung cấp dịch vụ công",
        "trực tuyến toàn trình và 176 TTHC cung cấp dịch vụ công trực tuyến một phần.",
        "18/18 thôn đã kiện toàn Tổ công nghệ số cộng đồng.",
    ],
    [
        "4. Đánh giá chung",
        "Trong tháng 11/2025, Trung tâm tiếp nhận 2.958 hồ sơ, tăng so với tháng trước;",
        "16 hồ sơ quá hạn thuộc lĩnh vực đất đai do phải xác minh nguồn gốc sử dụng đất.",
        "Một số hồ sơ đã giải quyết trên Hệ thống thông tin giải quyết TTHC của thành",
        "phố nhưng chưa được đồng bộ trạng thái lên Cổng Dịch vụ công quốc gia.",
        "5. Kiến nghị",
        "Đề nghị Văn phòng UBND thành phố phối hợp đơn vị cung cấp phần mềm khắc phục",
        "tình trạng chậm đồng bộ trạng thái hồ sơ trước ngày chốt số liệu hằng tháng.",
        "Nơi nhận:                                                        GIÁM ĐỐC",
        "- UBND xã;",
        "- Lưu: VT.                                                   Vũ Thị Lan",
    ],
]


def report_tien_lang(out: Path) -> None:
    import matplotlib
    from fpdf import FPDF

    font = Path(matplotlib.__file__).parent / "mpl-data" / "fonts" / "ttf" / "DejaVuSans.ttf"
    pdf = FPDF(format="A4")
    pdf.set_creation_date(FIXED.replace(tzinfo=dt.UTC))
    pdf.set_creator("nq57sync corpus")
    pdf.set_producer("fpdf2")
    pdf.add_font("DejaVu", "", str(font))
    pdf.set_font("DejaVu", size=10.5)
    pdf.set_margins(30, 20, 15)
    pdf.set_auto_page_break(False)
    for lines in TIEN_LANG_PAGES:
        pdf.add_page()
        for line in lines:
            assert pdf.get_string_width(line) <= pdf.epw, line
            pdf.cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(out / "xa-tien-lang-thang-11-2025.pdf"))


FILES = (
    "phuong-an-bien-thang-11-2025.docx",
    "xa-kien-thuy-quy-4-2025.docx",
    "phuong-hong-bang-nam-2025.docx",
    "xa-tien-lang-thang-11-2025.pdf",
)


def build(out: Path = HERE) -> list[Path]:
    """Write the four binary reports into ``out``; returns their paths (see FILES)."""
    report_an_bien(out)
    report_kien_thuy(out)
    report_hong_bang(out)
    report_tien_lang(out)
    return [out / name for name in FILES]


def main() -> None:
    for path in build():
        print(path.name)


if __name__ == "__main__":
    main()
