"""The client directory at 100,000 clients: import, open, filter, mark, sort, memory.

Run under a display (Xvfb on a server): ``xvfb-run -a python3 bench/clients_scale.py``.
Each figure is printed with its target and with a baseline measured in the same run
on the same data, so the ratio means something on any machine:

- import: csv.reader + one executemany into a bare table (no validation, no matching);
- open: reading the rows with one SELECT (the floor of any window);
- filter: a plain substring scan over pre-lowered joined rows;
- mark all shown: the one SQL statement that marks every client;
- sort: ``list.sort`` on pre-computed keys.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from avtoprokat_mail.credentials import PasswordStore
from avtoprokat_mail.interchange import apply_import, plan_import
from avtoprokat_mail.paths import database_path
from avtoprokat_mail.storage import clients as client_store
from avtoprokat_mail.storage import open_database

SURNAMES = ["Иванов", "Петров", "Сидоров", "Смирнов", "Кузнецов", "Попов", "Волков", "Лебедев"]
NAMES = ["Иван Петрович", "Сергей Ильич", "Олег Андреевич", "Дмитрий Юрьевич", "Павел Олегович"]
POSITIONS = ["Директор", "Главный бухгалтер", "Менеджер по закупкам", "Водитель", ""]
ORGS = [f"ООО «Компания {i}»" for i in range(400)] + [""] * 100
TARGETS = {
    "import": 3.0,
    "open": 1.0,
    "filter": 0.15,
    "mark all shown": 0.1,
    "sort": 0.5,
}
TARGET_PEAK_MB = 300


def write_csv(path: Path, count: int) -> None:
    """A Windows-1251 ';' CSV as Excel in a Russian locale writes it, every email unique."""
    rng = random.Random(100_000)
    with path.open("w", encoding="cp1251", newline="") as f:
        out = csv.writer(f, delimiter=";", lineterminator="\r\n")
        out.writerow(["Фамилия", "Имя", "Должность", "Наименование", "Email",
                      "Сотовый телефон", "Телефон", "Адрес", "Примечание"])  # fmt: skip
        for i in range(count):
            mobile = f"+79{rng.randrange(10**9):09d}"
            if i % 10 == 0:  # a tenth written the way people type them
                mobile = f"8 ({mobile[2:5]}) {mobile[5:8]}-{mobile[8:10]}-{mobile[10:]}"
            out.writerow([
                rng.choice(SURNAMES), rng.choice(NAMES), rng.choice(POSITIONS), rng.choice(ORGS),
                f"client{i}@{rng.choice(['mail.ru', 'yandex.ru', 'bk.ru', 'gmail.com'])}",
                mobile, f"+7 (495) {rng.randrange(1000000):07d}",
                f"г. Москва, ул. Ленина, д. {rng.randrange(1, 200)}", "",
            ])  # fmt: skip


def timed(func, *args):
    """(seconds, result) of one call."""
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def baseline_import(csv_path: Path, folder: Path) -> float:
    conn = sqlite3.connect(folder / "baseline.sqlite3", isolation_level=None)
    conn.execute("CREATE TABLE t (a, b, c, d, e, f, g, h, i)")

    def load() -> None:
        with csv_path.open(encoding="cp1251", newline="") as f:
            rows = csv.reader(f, delimiter=";")
            next(rows)
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
            conn.execute("COMMIT")

    seconds, _ = timed(load)
    conn.close()
    return seconds


def report(name: str, seconds: float, baseline: float) -> bool:
    target = TARGETS[name]
    ok = seconds <= target
    print(
        f"{name:<16} {seconds * 1000:8.1f} ms   target ≤ {target * 1000:6.0f} ms   "
        f"baseline {baseline * 1000:7.1f} ms   ratio {seconds / baseline:6.1f}×   "
        f"{'OK' if ok else 'SLOWER THAN TARGET'}"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=100_000)
    args = parser.parse_args()
    results: list[bool] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        csv_path = folder / "clients.csv"
        write_csv(csv_path, args.clients)
        print(f"clients: {args.clients:,}   CSV: {csv_path.stat().st_size / 1e6:.1f} MB")

        conn = open_database(database_path(folder))
        seconds, plan = timed(plan_import, conn, csv_path)
        apply_seconds, _ = timed(apply_import, conn, plan)
        assert len(plan.added) == args.clients, (len(plan.added), plan.rejected[:3])
        del plan  # as after a real import: the CLI process ends, the GUI drops the plan
        results.append(report("import", seconds + apply_seconds, baseline_import(csv_path, folder)))
        print(f"{'':17}(read and check {seconds * 1e3:.0f} ms, write {apply_seconds * 1e3:.0f} ms)")

        results += measure_window(conn, folder)
        conn.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory      {peak_mb:8.1f} MB   target ≤ {TARGET_PEAK_MB} MB   "
          f"{'OK' if peak_mb <= TARGET_PEAK_MB else 'OVER TARGET'}")  # fmt: skip
    results.append(peak_mb <= TARGET_PEAK_MB)
    return 0 if all(results) else 1


def measure_window(conn: sqlite3.Connection, folder: Path) -> list[bool]:
    """Time the real window's operations, each followed by a full redraw."""
    from avtoprokat_mail.app import create_root
    from avtoprokat_mail.storage.directory import fold
    from avtoprokat_mail.ui.clients_window import ClientsWindow

    root = create_root()
    root.update()
    results = []

    def open_window() -> ClientsWindow:
        window = ClientsWindow(root, conn, folder, PasswordStore())
        window.pack(fill="both", expand=True)
        root.update()
        return window

    # Baselines first, and their data dropped, so they do not count in the peak memory.
    base_open, rows = timed(client_store.fetch_rows, conn)
    keys = [fold("\x1f".join(map(str, row[1:10]))) for row in rows]
    base_filter, _ = timed(lambda ks: [i for i, k in enumerate(ks) if "смирнов" in k], keys)
    sort_keys = [fold(row[1]) for row in rows]
    base_sort, _ = timed(sorted, sort_keys)
    count = len(rows)
    del rows, keys, sort_keys

    seconds, window = timed(open_window)
    results.append(report("open", seconds, base_open))
    assert window.status_label.cget("text").startswith(f"показано {count} из {count}")

    def search() -> None:
        window.filters.search_var.set("смирнов")  # the filter runs when Tk is idle, as when typing
        root.update()

    seconds, _ = timed(search)
    results.append(report("filter", seconds, base_filter))
    print(f"                 ({window.status_label.cget('text')})")
    window.filters.reset()
    root.update()

    base_mark, _ = timed(lambda: client_store.set_all_marked(conn, True))
    client_store.set_all_marked(conn, False)

    def mark_shown() -> None:
        window.buttons["Отметить показанные"].invoke()
        root.update()

    seconds, _ = timed(mark_shown)
    results.append(report("mark all shown", seconds, base_mark))
    assert client_store.counts(conn)[1] == count

    def sort() -> None:
        window.client_grid.sort_by(1)
        root.update()

    seconds, _ = timed(sort)
    results.append(report("sort", seconds, base_sort))
    root.destroy()
    return results


if __name__ == "__main__":
    sys.exit(main())
