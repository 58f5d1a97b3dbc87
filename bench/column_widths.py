"""Fitting the columns at 100,000 clients: the client grid's fit against filling the sheet.

Run under a display (Xvfb on a server): ``xvfb-run -a python3 bench/column_widths.py``.
The fit measures a sample of the rows (ui/column_widths.py); its time is printed with its
target and with a baseline measured in the same run on the same data, so the ratio means
something on any machine:

- fit: ``ClientGrid.fit_columns`` on every client shown;
- baseline: filling the sheet, i.e. showing every row and redrawing (``ClientGrid.show``
  without the fit), which the window does at each opening and reload anyway;
- report fit: the run report's fit over as many deliveries, against inserting 500 of them
  (one batch of the report's filling);
- for comparison only: tksheet's own full fit (every cell measured) on the first 10,000 rows.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.model import Client, Delivery, DeliveryStatus
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database

SURNAMES = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Преображенский"]
NAMES = ["Иван Петрович", "Сергей Ильич", "Олег Андреевич", "Дмитрий Юрьевич", "Павел"]
POSITIONS = ["Директор", "Главный бухгалтер", "Заместитель директора по общим вопросам", ""]
ORGS = [f"ООО «Компания {i}»" for i in range(400)] + ["ООО «Грузоперевозки Северо-Запад»", ""]
NOTES = ["", "", "", "перезвонить", "Звонить после обеда, договор продлевается ежегодно. " * 40]
TARGET_FIT = 0.1  # seconds at 100,000 clients
FULL_FIT_ROWS = 10_000
REPEATS = 5


def clients(count: int) -> list[Client]:
    rng = random.Random(100_000)
    return [
        Client(
            surname=rng.choice(SURNAMES), name=rng.choice(NAMES),
            position=rng.choice(POSITIONS), organization=rng.choice(ORGS),
            email=f"client{i}@{rng.choice(['mail.ru', 'yandex.ru', 'grand-avtoprokat.ru'])}",
            mobile=f"+79{rng.randrange(10**9):09d}", phone=f"+7 (495) {rng.randrange(10**7):07d}",
            address=f"г. Москва, ул. Ленина, д. {rng.randrange(1, 200)}", note=rng.choice(NOTES),
            consent="2024-05-14" if i % 3 else "",
        )
        for i in range(count)
    ]  # fmt: skip


def best(func, repeats: int = REPEATS) -> float:
    """The median of a few timed calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def line(name: str, seconds: float, baseline: float, note: str = "") -> None:
    print(
        f"{name:<22} {seconds * 1000:9.1f} ms   baseline {baseline * 1000:8.1f} ms   "
        f"ratio {seconds / baseline:6.2f}×   {note}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        conn = open_database(database_path(folder))
        client_store.add_clients(conn, clients(args.clients))
        print(f"clients: {args.clients:,}")
        ok = measure(conn, folder, args.clients)
        conn.close()
    return 0 if ok else 1


def measure(conn, folder: Path, count: int) -> bool:
    from avtoprokat_mail.app import create_root
    from avtoprokat_mail.ui.clients_window import ClientsWindow

    root = create_root()
    root.update()
    print(f"tk scaling {float(root.tk.call('tk', 'scaling')):.3f}")
    window = ClientsWindow(root, conn, folder, PasswordStore())
    window.pack(fill="both", expand=True)
    root.update()
    grid = window.client_grid
    assert len(grid.shown) == count, len(grid.shown)

    fill = best(lambda: (grid.show(grid.shown), root.update()))
    fit = best(grid.fit_columns)
    ok = fit <= TARGET_FIT
    verdict = "OK" if ok else "SLOWER THAN TARGET"
    line("grid fit", fit, fill, f"target ≤ {TARGET_FIT * 1000:.0f} ms   {verdict}")
    print(f"{'':23}(baseline: showing {count:,} rows and redrawing)")
    print(f"{'':23}widths {[round(w) for w in grid.sheet.get_column_widths()]}")
    reload = best(window.reload, 3)
    print(
        f"{'whole reload':<22} {reload * 1000:9.1f} ms   (reading, table, fit, highlights, show;"
        f" the fit is {fit / reload:.1%} of it)"
    )

    report_fit(root, count)
    full_fit(root, window.table.grid[:FULL_FIT_ROWS], fit, count)
    root.destroy()
    return ok


def report_fit(root, count: int) -> None:
    """The report's fit over ``count`` deliveries against one batch of its filling."""
    import ttkbootstrap as ttk

    from avtoprokat_mail.ui.column_widths import fit_treeview
    from avtoprokat_mail.ui.progress_window import REPORT_BATCH, ReportFrame, _report_values

    rng = random.Random(7)
    rows = [
        Delivery(i + 1, f"client{i}@yandex.ru", surname=rng.choice(SURNAMES),
                 name=rng.choice(NAMES), status=DeliveryStatus.SENT,
                 reply="250 2.0.0 Ok: queued as 4F5A1C2B3D", mailbox="office@avtoprokat.ru")
        for i in range(count)
    ]  # fmt: skip
    top = ttk.Toplevel(master=root)
    tree = ttk.Treeview(top, columns=[c for c, _ in ReportFrame.COLUMNS], show="headings")
    for column, title in ReportFrame.COLUMNS:
        tree.heading(column, text=title)
    tree.pack()

    def insert_batch() -> None:
        for d in rows[:REPORT_BATCH]:
            tree.insert("", "end", values=_report_values(d))
        tree.delete(*tree.get_children())

    batch = best(insert_batch)
    fit = best(lambda: fit_treeview(tree, rows, _report_values, stretch="reply"))
    line("report fit", fit, batch, f"(baseline: inserting {REPORT_BATCH} report rows)")
    top.destroy()


def full_fit(root, rows: list, fit: float, count: int) -> None:
    """tksheet's own fit of every cell, on a sheet of the first rows: what is avoided."""
    import ttkbootstrap as ttk
    from tksheet import Sheet

    from avtoprokat_mail.storage.directory import GRID_HEADERS

    top = ttk.Toplevel(master=root)
    sheet = Sheet(top, headers=list(GRID_HEADERS), data=rows, show_row_index=False)
    sheet.pack(fill="both", expand=True)
    root.update()
    start = time.perf_counter()
    sheet.set_all_column_widths(redraw=False)
    seconds = time.perf_counter() - start
    print(
        f"{'tksheet full fit':<22} {seconds * 1000:9.1f} ms   on {len(rows):,} rows "
        f"(about {seconds * count / len(rows):.1f} s at {count:,}; "
        f"{seconds / fit:.0f}× the sampled fit at {count:,})"
    )
    top.destroy()


if __name__ == "__main__":
    sys.exit(main())
