"""Reading client workbooks: a plain one, and a sparse one with a stray cell in column XFD.

``python3 bench/xlsx_import.py [--rows N]``. The figure is the import's planning (reading,
checking every row, matching against an empty directory) over a baseline measured in the
same run on the same file: the reader alone with nothing else done. A plain workbook is read
with calamine, so its floor is calamine's ``to_python()``.

A stray cell at the far right (a note typed in column XFD, a format dragged across) would
make calamine's rectangle 16,384 cells wide: such a sheet is read with openpyxl's sparse
parser instead, and its floor is openpyxl's read-only ``iter_rows(values_only=True)``, which
pads every row to 16,384 cells: the sparse ratio shows that the import does not.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import openpyxl

from avtoprokat_mail.interchange import plan_import
from avtoprokat_mail.storage import open_database

HEADER = ["Фамилия", "Имя", "Отчество", "Email", "Сотовый телефон", "Организация"]


def write_workbook(path: Path, rows: int, *, stray: bool) -> None:
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append(HEADER)
    for i in range(rows):
        row = [f"Иванов{i}", "Пётр", "Ильич", f"i{i}@mail.ru", f"+7903{i:07d}", "ООО Ромашка"]
        if stray:
            row += [None] * (16_384 - len(row) - 1) + ["x"]
        sheet.append(row)
    workbook.save(path)


def baseline(path: Path, *, stray: bool) -> float:
    started = time.perf_counter()
    if not stray:
        from python_calamine import CalamineWorkbook

        with CalamineWorkbook.from_path(path) as book:
            book.get_sheet_by_index(0).to_python()
        return time.perf_counter() - started
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _ in workbook.worksheets[0].iter_rows(values_only=True):
        pass
    workbook.close()
    return time.perf_counter() - started


def planned(path: Path, folder: Path) -> float:
    conn = open_database(folder / f"{path.stem}.db")
    started = time.perf_counter()
    plan = plan_import(conn, path)
    elapsed = time.perf_counter() - started
    conn.close()
    assert len(plan.added) > 0
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, stray in (("plain", False), ("sparse", True)):
            rows = args.rows if not stray else max(args.rows // 10, 100)
            path = folder / f"{name}.xlsx"
            write_workbook(path, rows, stray=stray)
            floor, ours = baseline(path, stray=stray), planned(path, folder)
            print(
                f"{name:6} {rows:>7,} rows: import plan {ours:6.2f} s, "
                f"{'openpyxl iter_rows' if stray else 'calamine to_python'} {floor:6.2f} s, "
                f"ratio {ours / floor:5.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
