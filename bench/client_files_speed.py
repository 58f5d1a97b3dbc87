"""Client files at 100,000 rows: XLSX import, XLSX and CSV export, each in a fresh process.

``python3 bench/client_files_speed.py [--rows N]``. Prints seconds, peak memory (the child
process's ru_maxrss) and the target check of each:

* import: ``plan_import`` of an XLSX against an empty directory (target ≤ 2 s, ≤ 300 MB).
  The baseline from the same run is calamine alone reading the same file into Python lists
  (``get_sheet_by_index(0).to_python()``): the floor the import cannot go below.
  Two files: one written as Excel writes it (shared strings) and one as openpyxl and
  xlsxwriter's constant-memory mode write it (inline strings, a larger sheet XML), both
  with xlsxwriter (in the ``test`` extra: the application writes XLSX itself).
* export: ``export_clients`` of 100,000 stored clients to XLSX (target ≤ 3 s) and CSV
  (target ≤ 1 s), ≤ 300 MB each. The ratio is against writing the same rows with the csv
  module alone.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HEADER = ["Фамилия", "Имя", "Отчество", "Email", "Сотовый телефон", "Организация", "Согласие"]
TARGETS = {"import": 2.0, "xlsx": 3.0, "csv": 1.0}
MAX_MB = 300


def _row(i: int) -> list:
    return [f"Иванов{i}", "Пётр", "Ильич", f"i{i}@mail.ru", f"+7903{i:07d}", "ООО Ромашка",
            "15.03.2025" if i % 3 else ""]  # fmt: skip


def write_workbook(path: Path, rows: int, *, shared_strings: bool) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": not shared_strings})
    sheet = workbook.add_worksheet()
    sheet.write_row(0, 0, HEADER)
    for i in range(rows):
        sheet.write_row(i + 1, 0, _row(i))
    workbook.close()


# --- what the child processes run -----------------------------------------------------------
CHILD = r"""
import json, resource, sys, time
from pathlib import Path
job, path, folder = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
def done(seconds, count):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "count": count, "peak_mb": peak}))
if job == "calamine":
    from python_calamine import CalamineWorkbook
    started = time.perf_counter()
    with CalamineWorkbook.from_path(path) as workbook:
        rows = workbook.get_sheet_by_index(0).to_python()
    done(time.perf_counter() - started, len(rows) - 1)
elif job == "import":
    from avtoprokat_mail.interchange import plan_import
    from avtoprokat_mail.storage import open_database
    conn = open_database(folder / "empty.db")
    started = time.perf_counter()
    plan = plan_import(conn, path)
    done(time.perf_counter() - started, len(plan.added))
elif job == "fill":
    from avtoprokat_mail.interchange import apply_import, plan_import
    from avtoprokat_mail.storage import open_database
    conn = open_database(folder / "clients.db")
    apply_import(conn, plan_import(conn, path))
    done(0.0, 0)
elif job in ("xlsx", "csv"):
    from avtoprokat_mail.interchange import export_clients
    from avtoprokat_mail.storage import open_database
    conn = open_database(folder / "clients.db")
    started = time.perf_counter()
    count = export_clients(conn, folder / f"out.{job}")
    done(time.perf_counter() - started, count)
elif job == "csv-floor":
    import csv, io
    from avtoprokat_mail.storage import clients as store
    from avtoprokat_mail.storage import open_database
    conn = open_database(folder / "clients.db")
    started = time.perf_counter()
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows(store.fetch_rows(conn))
    (folder / "floor.csv").write_bytes(buffer.getvalue().encode("utf-8"))
    done(time.perf_counter() - started, 0)
"""


def run(job: str, path: Path, folder: Path) -> dict:
    """``job`` in a fresh interpreter, so that each peak memory is its own."""
    root = Path(__file__).resolve().parent.parent
    out = subprocess.run(
        [sys.executable, "-c", CHILD, job, str(path), str(folder)],
        capture_output=True, text=True, check=True, cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def _verdict(name: str, seconds: float, peak: float) -> str:
    ok = seconds <= TARGETS[name] and peak <= MAX_MB
    return f"target ≤ {TARGETS[name]:.0f} s, ≤ {MAX_MB} MB: {'yes' if ok else 'NO'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # a child's job
    parser.add_argument("--shared", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        write_workbook(args.write, args.rows, shared_strings=args.shared)
        return 0
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        for name, shared in (("shared strings", True), ("inline strings", False)):
            path = folder / f"{'shared' if shared else 'inline'}.xlsx"
            # Written by a child too: a process started from this one would inherit the
            # writer's peak memory as its own ru_maxrss.
            subprocess.run(
                [sys.executable, __file__, "--rows", str(args.rows), "--write", str(path)]
                + (["--shared"] if shared else []),
                check=True,
            )
            floor, ours = run("calamine", path, folder), run("import", path, folder)
            assert ours["count"] == args.rows, ours
            print(
                f"import XLSX ({name}), {args.rows:,} rows: plan_import {ours['seconds']:.2f} s, "
                f"peak {ours['peak_mb']:.0f} MB; calamine alone {floor['seconds']:.2f} s, "
                f"peak {floor['peak_mb']:.0f} MB; ratio {ours['seconds'] / floor['seconds']:.2f}; "
                + _verdict("import", ours["seconds"], ours["peak_mb"])
            )
        run("fill", folder / "shared.xlsx", folder)
        floor = run("csv-floor", folder, folder)
        for job in ("xlsx", "csv"):
            ours = run(job, folder, folder)
            assert ours["count"] == args.rows, ours
            print(
                f"export {job.upper()}, {args.rows:,} clients: {ours['seconds']:.2f} s, peak "
                f"{ours['peak_mb']:.0f} MB; csv module alone {floor['seconds']:.2f} s, ratio "
                f"{ours['seconds'] / floor['seconds']:.1f}; "
                + _verdict(job, ours["seconds"], ours["peak_mb"])
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
