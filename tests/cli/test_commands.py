"""Every client command against a real server, its JSON output parsed, and each error status."""

from __future__ import annotations

import uuid

import pytest

from tests.cli.conftest import one_line

# -- predict and models -----------------------------------------------------------------------


@pytest.mark.parametrize(("x", "result"), [("3.5", 147.0), ("-2.5", -105.0), ("0", 0.0),
                                           ("-1e3", -42000.0)])
def test_predict(fpx, x, result):
    assert fpx.json("predict", x) == {"model": "answer_to_everything", "x": float(x),
                                      "result": result}


def test_predict_negative_number_with_options_after_it(fpx, server):
    data = fpx.json("predict", "-2.5", "--model", "answer_to_everything", "--url", server.url)
    assert data["result"] == -105.0


def test_predict_non_finite_is_bad_usage(fpx):
    result = fpx.fails(2, "predict", "inf")
    assert one_line(result) == (
        "error: fpx predict: Invalid value for 'X': must be a finite number, not inf"
        " (see: fpx predict --help)"
    )


def test_predict_unknown_model_is_404(fpx):
    result = fpx.fails(1, "predict", "1", "--model", "nope")
    assert one_line(result) == "error: 404 Not Found: model 'nope' not found"


def test_models(fpx):
    [model] = fpx.json("models")
    assert model["name"] == "answer_to_everything"
    assert model["load_ms"] >= 0


# -- users -----------------------------------------------------------------------------------


def test_users_list_me_and_get(fpx):
    assert {"username": "Rick"} in fpx.json("users", "list")
    assert fpx.json("users", "me") == {"username": "fakecurrentuser"}
    assert fpx.json("users", "get", "Morty") == {"username": "Morty"}


def test_users_get_unknown_is_404(fpx):
    result = fpx.fails(1, "users", "get", "Jerry")
    assert "404 Not Found: user 'Jerry' not found" in one_line(result)


# ("..", refused before it is sent: tests/cli/test_hostile_server.py)
@pytest.mark.parametrize("name", ["bad name", "a/b", "x" * 65])
def test_users_get_malformed_name_is_the_servers_422(fpx, name):
    result = fpx.fails(1, "users", "get", name)
    assert "422 Unprocessable Entity" in one_line(result)


# -- items -----------------------------------------------------------------------------------


def test_items_add_get_list_delete(fpx):
    item = fpx.json("items", "add", "portal gun", "--description", "green")
    assert item["name"] == "portal gun" and item["description"] == "green"
    assert fpx.json("items", "get", str(item["id"])) == item
    listed = fpx.json("items", "list", "--limit", "1000")
    assert item in listed
    assert fpx.json("items", "delete", str(item["id"])) == {"id": item["id"], "deleted": True}
    result = fpx.fails(1, "items", "get", str(item["id"]))
    assert one_line(result) == f"error: 404 Not Found: item {item['id']} not found"
    fpx.fails(1, "items", "delete", str(item["id"]))


def test_items_add_without_description(fpx):
    assert fpx.json("items", "add", "plumbus")["description"] is None


def test_items_list_pages(fpx):
    ids = [fpx.json("items", "add", f"page {n}")["id"] for n in range(3)]
    everything = [i["id"] for i in fpx.json("items", "list", "--limit", "1000")]
    start = everything.index(ids[0])
    page = fpx.json("items", "list", "--limit", "2", "--offset", str(start + 1))
    assert [i["id"] for i in page] == ids[1:]


def test_items_add_empty_name_is_the_servers_422(fpx):
    result = fpx.fails(1, "items", "add", "")
    assert "422 Unprocessable Entity: name:" in one_line(result)


# -- health ----------------------------------------------------------------------------------


def test_health(fpx):
    assert fpx.json("health") == {
        "livez": {"status": "alive"},
        "readyz": {"status": "ready", "models": ["answer_to_everything"]},
    }


# -- where the server is found ---------------------------------------------------------------


def test_url_before_or_after_the_command(fpx, server, monkeypatch):
    monkeypatch.delenv("FPX_URL")
    assert fpx.json("--url", server.url, "predict", "1")["result"] == 42.0
    assert fpx.json("predict", "1", "--url", server.url)["result"] == 42.0
    assert fpx.json("users", "me", "--url", server.url)["username"] == "fakecurrentuser"


def test_url_after_the_command_wins(fpx, server, free_url):
    assert fpx.json("--url", free_url, "predict", "2", "--url", server.url)["result"] == 84.0


def test_json_and_timeout_before_the_command(fpx):
    assert fpx.json("--json", "--request-timeout", "2", "predict", "1")["result"] == 42.0


def test_fpx_url_is_used_without_url(fpx, server):
    assert fpx.json("predict", "1")["result"] == 42.0  # FPX_URL is the server (see conftest)


def test_the_detached_servers_record_is_used_without_url_or_fpx_url(
    fpx, server, monkeypatch, state_dir
):
    from cli import procs, state

    monkeypatch.delenv("FPX_URL")
    state.save(state.ServerRecord(
        url=server.url, pid=server.pid, log="", db=str(server.db), started_at=0,
        proc_start=procs.start_time(server.pid),
    ))
    assert fpx.json("predict", "1")["result"] == 42.0


def test_a_stale_record_is_removed_not_trusted(fpx, server, monkeypatch, state_dir, free_url):
    from cli import state

    monkeypatch.delenv("FPX_URL")
    state.save(state.ServerRecord(url=server.url, pid=server.pid, log="", db="", started_at=0,
                                  proc_start=1))  # the server's pid, but not its start time
    result = fpx("predict", "1", "--request-timeout", "0.5")
    assert not state.record_path(server.pid).exists()
    assert server.url not in result.output


def test_a_task_id_of_the_servers_choice_or_ours(fpx):
    chosen = str(uuid.uuid4())
    assert fpx.json("task", "submit", "--wait", "0", "--id", chosen)["id"] == chosen
    result = fpx.fails(1, "task", "submit", "--wait", "0", "--id", chosen)
    assert one_line(result) == f"error: 409 Conflict: task {chosen} already exists"
