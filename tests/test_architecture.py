"""The shape of the package, checked: parts import only downwards, and nothing imports in a circle.

Layers, lowest first (a module may import its own layer and the ones below):
  core         model, redaction, sizes, validation, placeholders, paths, credentials, system/
  storage      storage/
  services     interchange/, sending/
  front ends   cli/, ui/ (neither imports the other)
  root         app (the GUI's composition root), __main__
``storage``, ``interchange`` and ``sending`` never touch Tk, so the CLI, tests and benchmarks
run them without a display. The one upward edge allowed: the command line starts the GUI.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "avtoprokat_mail"
ROOT = "avtoprokat_mail"
LAYERS = {
    "model": 0, "redaction": 0, "validation": 0, "placeholders": 0, "paths": 0,
    "credentials": 0, "sizes": 0, "system": 0,
    "storage": 1, "interchange": 2, "sending": 2, "cli": 3, "ui": 3, "app": 4, "__main__": 4,
}  # fmt: skip
ALLOWED_UPWARD = {("cli.dispatch", "app")}  # `avtoprokat-mail gui` opens the window
TK = ("tkinter", "ttkbootstrap", "tksheet", "PIL")
NO_TK_PARTS = ("storage", "interchange", "sending", "model", "validation", "placeholders")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports_of(name: str) -> tuple[set[str], set[str]]:
    """(package modules, outside top-level packages) that ``name`` imports, anywhere in it."""
    inside, outside = set(), set()
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    type_only = {  # imports under "if TYPE_CHECKING:" run only in a type checker
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING")
        for inner in ast.walk(node)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            # "from x import y": the module x.y when y is one, else a name in x.
            targets = [
                f"{node.module}.{a.name}" if _local(f"{node.module}.{a.name}") in MODULES
                else node.module
                for a in node.names
            ]  # fmt: skip
        else:
            continue
        for target in targets:
            if target == ROOT or target.startswith(ROOT + "."):
                inside.add(_local(target))
            else:
                outside.add(target.split(".")[0])
    return inside - {name, ""}, outside


def _local(target: str) -> str:
    return target.removeprefix(ROOT).removeprefix(".")


def part_of(name: str) -> str:
    return name.split(".")[0]


GRAPH = {name: imports_of(name)[0] for name in MODULES if name}


def test_the_walk_sees_the_package():
    assert {"model", "storage.runs", "sending.campaign", "cli.send", "ui.clients_window"} <= set(
        GRAPH
    )
    assert "storage.db" in GRAPH["storage.runs"]


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_go_down_only(name):
    layer = LAYERS[part_of(name)]
    for target in GRAPH[name]:
        if (name, target) in ALLOWED_UPWARD:
            continue
        assert LAYERS[part_of(target)] <= layer, f"{name} imports {target}, a higher part"
        if {part_of(name), part_of(target)} == {"cli", "ui"}:
            pytest.fail(f"{name} imports {target}: the command line and the GUI stay apart")


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if part_of(n) in NO_TK_PARTS))
def test_no_tk_below_the_ui(name):
    _, outside = imports_of(name)
    assert not outside & set(TK), f"{name} imports {outside & set(TK)}"


def test_no_import_cycle():
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = "open"
        path.append(node)
        for target in sorted(GRAPH.get(node, ())):
            if state.get(target) == "open":
                cycle = [*path[path.index(target) :], target]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[node] = "done"

    for node in sorted(GRAPH):
        if node not in state:
            visit(node)


# Not needed to read a command's options: the system password store, the spreadsheet readers,
# the GUI, the address and phone checks of the import, the database, and the commands' own
# modules (imported by cli/dispatch.py only when their command runs).
NOT_FOR_HELP = (
    "keyring", "openpyxl", "python_calamine", "tkinter", "email_validator", "phonenumbers",
    "sqlite3", "avtoprokat_mail.storage", "avtoprokat_mail.sending",
    "avtoprokat_mail.cli.send", "avtoprokat_mail.cli.clients", "avtoprokat_mail.cli.settings",
)  # fmt: skip
_SHOW_IMPORTS = """
import json, sys
from avtoprokat_mail.cli import main
try:
    main(sys.argv[1:])
except SystemExit as end:
    print(json.dumps({"exit": end.code, "modules": sorted(sys.modules)}))
"""


def _help_imports(tmp_path: Path, *args: str) -> tuple[str, dict]:
    """(what the command printed, its exit status and every module it had imported)."""
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", _SHOW_IMPORTS, "--data-dir", str(tmp_path), *args],
        capture_output=True, text=True, encoding="utf-8", env=env, timeout=60,
    )  # fmt: skip
    *printed, last = done.stdout.splitlines()
    return "\n".join(printed), json.loads(last)


@pytest.mark.parametrize("args", [("send", "--help"), ("--help",), ("clients", "import", "-h")])
def test_help_imports_nothing_heavy(tmp_path, args):
    printed, found = _help_imports(tmp_path, *args)
    assert found["exit"] == 0
    assert "Использование: avtoprokat-mail" in printed
    loaded = [
        name for name in found["modules"]
        if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_FOR_HELP)
    ]  # fmt: skip
    assert loaded == [], f"{' '.join(args)} imported {loaded}"


def test_send_help_lists_its_options(tmp_path):
    """The options live in cli/arguments.py, apart from cli/send.py: still all of them."""
    printed, _found = _help_imports(tmp_path, "send", "--help")
    for option in (
        "--resume",
        "--retry",
        "--again",
        "--skip-incomplete",
        "--outbox",
        "--yes",
        "--wait",
        "--resend-uncertain",
        "--include-uncertain",
        "НОМЕР_ШАБЛОНА",
    ):
        assert option in printed


# An email run needs none of these: the SMS gateway's HTTP client, the IMAP reader, the
# spreadsheet files, the GUI, the import's address and phone checks.
NOT_FOR_AN_EMAIL_RUN = (
    "avtoprokat_mail.sending.sms.gateway", "urllib.request", "imaplib", "openpyxl",
    "python_calamine", "tkinter", "email_validator", "phonenumbers",
)  # fmt: skip


def test_an_email_run_imports_only_what_it_uses():
    code = (
        "import json, sys\n"
        "import avtoprokat_mail.cli.dispatch, avtoprokat_mail.cli.send\n"
        "import avtoprokat_mail.sending.smtp\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    env = {**os.environ, "PYTHONPATH": str(PACKAGE.parent)}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    modules = json.loads(done.stdout)
    assert "avtoprokat_mail.sending.campaign" in modules  # what it does use
    loaded = [
        name for name in modules
        if any(name == heavy or name.startswith(heavy + ".") for heavy in NOT_FOR_AN_EMAIL_RUN)
    ]  # fmt: skip
    assert loaded == []
