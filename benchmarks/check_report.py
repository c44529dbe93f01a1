"""check-report on a long report: a 300-page .docx (and the same text as .txt) read and checked.

    .venv/bin/python benchmarks/check_report.py [PAGES]      (default 300)

A page is about 40 lines of the sentence shapes reports use (totals with their
parts, shares, bullet lists, task statuses, tables), one in ten with a figure
off. Prints the time to read each file alone (python-docx's own paragraph walk
is the floor: what any tool reading the file pays), the time to check it, and
the findings. The issue's goal: under 5 seconds for 300 pages.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import docx

from nq57sync import vi
from nq57sync.checkreport import check, read_document

LINES_PER_PAGE = 40
T = TypeVar("T")


def section(rng: random.Random, k: int, wrong: bool) -> list[str]:
    n = vi.number
    online, direct = rng.randint(50, 40_000), rng.randint(50, 40_000)
    early, on_time, late = rng.randint(10, 9000), rng.randint(10, 9000), rng.randint(0, 900)
    done, doing, overdue = rng.randint(1, 60), rng.randint(1, 60), rng.randint(0, 9)
    received = online + direct + (rng.randint(1, 9) if wrong else 0)
    return [
        f"{k}. Kết quả của đơn vị số {k}",
        f"Tổng số hồ sơ tiếp nhận trong kỳ là {n(received)} hồ sơ, trong đó {n(online)} hồ sơ "
        f"trực tuyến và {n(direct)} hồ sơ trực tiếp (tỷ lệ trực tuyến "
        f"{vi.percent(vi.share(online, online + direct))}).",
        f"Số hồ sơ đã giải quyết {n(early + on_time + late)} hồ sơ, gồm:",
        f"- Trước hạn: {n(early)} hồ sơ;",
        f"- Đúng hạn: {n(on_time)} hồ sơ;",
        f"- Quá hạn: {n(late)} hồ sơ.",
        f"Năm 2025, đơn vị được giao {n(done + doing + overdue)} nhiệm vụ, đã hoàn thành "
        f"{n(done)} nhiệm vụ, đang thực hiện {n(doing)} nhiệm vụ, quá hạn {n(overdue)} nhiệm vụ.",
        "Các đơn vị tiếp tục rà soát, cập nhật tình trạng hồ sơ trên Cổng Dịch vụ công quốc gia, "
        "bảo đảm số liệu thống nhất giữa các hệ thống; tăng cường hướng dẫn người dân nộp hồ sơ "
        "trực tuyến, thanh toán trực tuyến và nhận kết quả qua dịch vụ bưu chính công ích.",
    ]


def report(pages: int, seed: int = 3) -> tuple[list[str], int]:
    rng = random.Random(seed)
    lines = ["BÁO CÁO KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH QUÝ III NĂM 2025", ""]
    planted = k = 0
    while len(lines) < pages * LINES_PER_PAGE:
        k += 1
        wrong = k % 10 == 0
        planted += wrong
        lines += section(rng, k, wrong) + [""] * 2
    return lines, planted


def timed(fn: Callable[..., T], *args: object) -> tuple[T, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def main() -> None:
    pages = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    lines, planted = report(pages)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        text = folder / "bao-cao.txt"
        text.write_text("\n".join(lines), encoding="utf-8")
        document = docx.Document()
        for line in lines:
            document.add_paragraph(line)
        word = folder / "bao-cao.docx"
        document.save(str(word))
        print(f"{pages} trang, {vi.number(len(lines))} dòng, {planted} tổng sai được gieo; "
              f".docx {vi.number(word.stat().st_size / 1e6, 1)} MB")
        _, floor = timed(lambda: [p.text for p in docx.Document(str(word)).paragraphs])
        print(f"  python-docx, chỉ đọc các đoạn (mức sàn): {floor:.2f} s")
        for path in (word, text):
            read, t_read = timed(read_document, path)
            result, t_check = timed(check, read)
            # A total off by a few may also put its share off: count the sums.
            wrong = [c for c in result.checks if c.status == "mismatch" and c.kind == "sum"]
            print(f"  {path.suffix}: đọc {t_read:.2f} s + kiểm tra {t_check:.2f} s = "
                  f"{t_read + t_check:.2f} s (mục tiêu < 5 s); {vi.number(len(result.checks))} "
                  f"phép kiểm tra, {len(wrong)} tổng sai (gieo {planted}), "
                  f"{result.count('unclear')} chưa rõ")
            assert len(wrong) == planted, "every planted total, and nothing else, is found"


if __name__ == "__main__":
    main()
