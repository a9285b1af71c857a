"""What a terminal shows: rich tables and panels, the progress of a task, --json kept as JSON."""

from __future__ import annotations

import json
import re

import pytest

# rich's own switch: a terminal, without colours, wide enough not to wrap.
TERMINAL = {"TTY_COMPATIBLE": "1", "NO_COLOR": "1", "COLUMNS": "120"}


@pytest.fixture
def term(fpx):
    def run(*args: str) -> str:
        result = fpx(*args, env=TERMINAL)
        assert result.exit_code == 0, result.output
        return plain(result.stdout)

    return run


def plain(text: str) -> str:
    """Without terminal escape sequences (styles, cursor moves)."""
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_predict_on_a_terminal(term):
    assert term("predict", "3.5") == "answer_to_everything(3.5) = 147.0\n"


def test_json_on_a_terminal_is_indented_json(fpx):
    result = fpx("predict", "3.5", "--json", env=TERMINAL)
    assert result.stdout.startswith("{\n  ")
    assert json.loads(result.stdout)["result"] == 147.0


def test_tables(term):
    assert "answer_to_everything" in term("models")
    users = term("users", "list")
    assert users.split()[:3] == ["username", "━━━━━━━━", "Rick"]
    health = term("health")
    assert "/readyz" in health and "ready" in health


def test_item_panel_and_table(term, fpx):
    out = term("items", "add", "[bold]not markup[/bold]", "-d", "green")
    assert "[bold]not markup[/bold]" in out  # server text is shown as is, never as rich markup
    assert "description  green" in out
    assert "deleted item" in term("items", "delete", out.split("item ")[1].split()[0])


def test_submit_prints_the_id_and_how_to_look_it_up(term):
    out = term("task", "submit", "--wait", "0")
    task_id = out.split("accepted task ")[1].split()[0]
    assert f"fpx task wait {task_id}" in out
    assert f"fpx task get {task_id}" in out


def test_follow_shows_progress_then_the_task(term):
    out = term("task", "submit", "--wait", "1", "--follow")
    assert "━" in out and "100%" in out  # the progress bar, finished
    assert "status     succeeded" in out
    assert "result     task done after 1" in out


def test_task_list(term, fpx):
    fpx.ok("task", "submit", "--wait", "0", "--follow")
    out = term("task", "list", "--status", "succeeded", "--limit", "3")
    assert out.split()[:3] == ["id", "┃", "status"]
    assert "succeeded" in out


def test_task_list_fits_80_columns_with_short_ids(fpx):
    fpx.ok("task", "submit", "--wait", "0", "--follow")
    fpx.json("task", "submit", "--wait", "60")
    ids = [t["id"] for t in fpx.json("task", "list", "--limit", "4")]  # --json: full ids
    result = fpx("task", "list", "--limit", "4", env={**TERMINAL, "COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = plain(result.stdout).splitlines()
    assert max(len(line) for line in lines) <= 80, result.stdout
    assert lines[0].split() == ["id", "┃", "status", "┃", "progress", "┃", "job", "┃",
                                "created", "┃", "result"]  # no header cut
    rows = [line for line in lines[2:] if not line.startswith(" ")][:-1]
    assert [row.split()[0] for row in rows] == [i[:8] for i in ids]
    assert "…" not in result.stdout  # nothing cut, only the results fold
    assert lines[-1] == "ids cut to their first 8 characters; all of it: fpx task list --json"

    wide = plain(fpx("task", "list", "--limit", "4", env={**TERMINAL, "COLUMNS": "200"}).stdout)
    assert [line.split()[0] for line in wide.splitlines()[2:]] == ids
    assert "ids cut" not in wide


@pytest.mark.parametrize("columns", [40, 60])
def test_narrow_terminals_drop_columns_rather_than_cut_them(fpx, columns):
    fpx.ok("task", "submit", "--wait", "0", "--follow")
    ids = [t["id"] for t in fpx.json("task", "list", "--limit", "3")]
    result = fpx("task", "list", "--limit", "3", env={**TERMINAL, "COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns, out
    assert "…" not in out  # no header and no cell cut short
    headers = [h for h in lines[0].split() if h != "┃"]
    assert headers[:2] == ["id", "status"]  # the most useful stay
    shown = [line.split()[0] for line in lines[2:2 + len(ids)]]
    assert shown == [i[:8] for i in ids]  # as long as the note says
    left_out = [h for h in ("progress", "job", "created", "result") if h not in headers]
    note = " ".join(line.strip() for line in lines[2 + len(ids):])
    assert note.startswith("ids cut to their first 8 characters; ")
    assert f"left out to fit: {', '.join(left_out)}; " in note
    assert note.endswith("all of it: fpx task list --json")


def test_a_task_panel_never_cuts_its_id(fpx):
    task = fpx.json("task", "submit", "--wait", "0")
    out = plain(fpx.ok("task", "get", task["id"], env={**TERMINAL, "COLUMNS": "40"}).stdout)
    assert task["id"] in out.replace("\n", "")
    assert "…" not in out


def test_errors_go_to_stderr_not_stdout(fpx):
    result = fpx("users", "get", "Jerry", env=TERMINAL)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "404 Not Found" in result.stderr


def test_status_panel(term, fpx, server):
    from cli import procs, state

    state.save(state.ServerRecord(
        url=server.url, pid=server.pid, log=str(server.log_path), db=str(server.db),
        started_at=0.0, proc_start=procs.start_time(server.pid),
    ))
    fpx.ok("task", "submit", "--wait", "0", "--follow")
    out = term("status")
    assert "status    ready" in out
    assert f"pid       {server.pid}" in out
    assert "succeeded" in out.split("tasks")[1].splitlines()[0]


def test_paths_under_the_home_directory_are_shown_from_it(monkeypatch, tmp_path):
    from rich.console import Console

    from cli import render

    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    data = {
        "url": "http://127.0.0.1:8000", "docs": "http://127.0.0.1:8000/docs", "pid": 1,
        "models": ["answer_to_everything"], "startup_s": 0.3,
        "db": str(tmp_path / "me" / ".local" / "share" / "fpx" / "fpx.db"),
        "log": str(tmp_path / "elsewhere" / "server.log"),
    }
    console = Console(width=120, no_color=True)
    with console.capture() as shown:
        console.print(render.server_ready(data))
    text = shown.get()
    assert "~/.local/share/fpx/fpx.db" in text and str(tmp_path / "me") not in text
    assert str(tmp_path / "elsewhere" / "server.log") in text  # not under home: as it is
