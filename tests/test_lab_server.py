"""minifw lab without a browser: the server's checks, its sessions, its stream and its files."""

import http.client
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import attrs
import numpy as np
import pytest

import minifw
from minifw.cli import build_parser, main
from minifw.cli.train import configuration
from minifw.files.ledger import Ledger
from minifw.lab.sweeps import BASE_SETTINGS, sweep
from minifw.lab.web import controls as lab_controls
from minifw.lab.web import server as lab_server
from minifw.lab.web.controls import LAB_OWN, LIMITS, controls
from minifw.lab.web.server import LabServer
from minifw.lab.web.session import LabSession
from minifw.run.config import SETTINGS, RunConfig, setting

PLUGIN = """
import attrs, math
from typing import ClassVar
from minifw import Activation

@attrs.frozen
class LabCube(Activation):
    '''y = x³.'''
    output_range: ClassVar[tuple[float, float]] = (-math.inf, math.inf)
    def forward(self, x):
        return x**3
    def derivative(self, x, y):
        return 3 * x**2
"""


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lab")
    plugin = folder / "lab_cube.py"
    plugin.write_text(PLUGIN)
    with LabServer(0, plugins=(str(plugin),), runs_dir=str(folder / "runs")).running() as server:
        yield server


@pytest.fixture(autouse=True)
def _sessions_end_with_their_test(lab):
    yield
    for session in list(lab.sessions.values()):
        lab.end_session(session)


def call(lab, method, path, body=None, *, token=True, headers=None):
    """(status, parsed JSON or raw bytes, response headers) of one request to the lab."""
    connection = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    if token:
        path += ("&" if "?" in path else "?") + f"token={lab.token}"
    sent = {"Content-Type": "application/json", **(headers or {})}
    connection.request(method, path, None if body is None else json.dumps(body), sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    if response.getheader("Content-Type") == "application/json":
        data = json.loads(data)
    return response.status, data, response


def new_session(lab, values=None, seeds=1):
    status, answer, _ = call(lab, "POST", "/api/session", {"values": values or {}, "seeds": seeds})
    assert status == 200, answer
    assert answer["errors"] == {}
    return answer["session"]


def wait_until(condition, seconds=10.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def frames(lab, session_id, count=None, *, until=None, seconds=20.0):
    """The frames of a session's stream up to ``count`` of them, or up to the first for which
    ``until`` is true; then the stream is closed."""
    deadline = time.monotonic() + seconds
    connection = http.client.HTTPConnection("127.0.0.1", lab.port, timeout=10)
    connection.request("GET", f"/api/stream?session={session_id}&token={lab.token}")
    response = connection.getresponse()
    got = []
    while len(got) != count and not (got and until and until(got[-1])):
        assert time.monotonic() < deadline, "timed out"
        line = response.fp.readline()
        assert line, "the stream ended"
        if line.startswith(b"data: "):
            got.append(json.loads(line[6:]))
    connection.close()
    return got


GETS = ["/", "/static/lab.js", "/api/controls", "/api/stream?session=x", "/api/download/run.toml"]
POSTS = ["/api/session", "/api/apply", "/api/target", "/api/control", "/api/pin", "/api/unpin"]


@pytest.mark.parametrize(
    ("method", "path"), [("GET", p) for p in GETS] + [("POST", p) for p in POSTS]
)
def test_every_route_the_stream_included_needs_the_token(lab, method, path):
    status, answer, _ = call(lab, method, path, {}, token=False)
    assert status == 403
    assert "token" in answer["error"]
    wrong = path + ("&" if "?" in path else "?") + "token=" + "x" * len(lab.token)
    status, _, _ = call(lab, method, wrong, {}, token=False)
    assert status == 403


def test_the_page_sets_a_cookie_that_stands_for_the_token(lab):
    status, page, response = call(lab, "GET", "/")
    assert status == 200
    assert b"lab.js" in page
    cookie = response.getheader("Set-Cookie")
    assert cookie.startswith(f"{lab.cookie}={lab.token};")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    with_cookie = {"Cookie": cookie.split(";")[0]}
    status, answer, _ = call(lab, "GET", "/api/controls", token=False, headers=with_cookie)
    assert status == 200 and answer["controls"]


@pytest.mark.parametrize(
    "headers",
    [{"Origin": "http://evil.example"}, {"Origin": "null"}, {"Host": "evil.example"}],
)
def test_other_origins_and_hosts_are_refused_even_with_the_token(lab, headers):
    status, answer, _ = call(lab, "POST", "/api/target", {"text": "x"}, headers=headers)
    assert status == 403
    assert "refused" in answer["error"] or "Host" in answer["error"]


def test_the_labs_own_origin_is_served(lab):
    own = {"Origin": f"http://127.0.0.1:{lab.port}"}
    status, answer, _ = call(lab, "POST", "/api/target", {"text": "2*x"}, headers=own)
    assert status == 200
    assert answer["y"][-1] == pytest.approx(2 * answer["x"][-1])


def test_a_post_that_is_not_json_is_refused(lab):
    # What a form on another site could send without asking: text/plain, no preflight.
    status, answer, _ = call(lab, "POST", "/api/target", {}, headers={"Content-Type": "text/plain"})
    assert status == 400
    assert "JSON" in answer["error"]


def test_every_setting_of_what_trains_is_a_control_derived_from_its_declaration(lab):
    described = {c["name"]: c for c in controls()}
    assert list(described) == [n for n in SETTINGS if n not in LAB_OWN]
    # Only outputs (files, the terminal) are the lab's own: a new data, network or training
    # setting cannot be left out.
    assert {SETTINGS[n].group for n in LAB_OWN} == {"output"}
    for name, control in described.items():
        assert control["kind"] == SETTINGS[name].kind
        assert control["help"] == SETTINGS[name].help
        assert control["choices"] or SETTINGS[name].kind not in ("choice", "component")
    assert described["epochs"]["limit"] == LIMITS["epochs"]


def test_a_setting_added_to_the_declaration_is_a_control_with_no_lab_code(monkeypatch):
    extended = attrs.make_class(
        "Extended",
        {"new_knob": setting(0.5, "training", "number", "a knob added later", low=0)},
        bases=(RunConfig,),
        frozen=True,
    )
    declared = attrs.fields_dict(extended)["new_knob"].metadata["setting"]
    monkeypatch.setitem(SETTINGS, "new_knob", declared)  # the declaration, as RunConfig's
    monkeypatch.setattr(lab_controls, "RunConfig", extended)
    control = next(c for c in controls() if c["name"] == "new_knob")
    assert (control["group"], control["help"], control["default"]) == (
        "training",
        "a knob added later",
        "0.5",
    )
    config, problems = lab_controls.read_values({"new_knob": "0.7"})
    assert problems == {} and config.new_knob == 0.7
    _, problems = lab_controls.read_values({"new_knob": "-1"})
    assert problems == {"new_knob": "must be a finite number >= 0; got -1.0"}


def test_plugin_components_appear_in_the_menus_and_train(lab):
    _, answer, _ = call(lab, "GET", "/api/controls")
    activation = next(c for c in answer["controls"] if c["name"] == "activation")
    assert "lab_cube" in activation["choices"]
    session = new_session(lab, {"output_activation": "lab_cube", "epochs": "3", "engine": "numpy"})
    assert frames(lab, session, 1)[0]["x"]


def test_bad_values_are_answered_by_control_and_the_server_keeps_serving(lab):
    session = new_session(lab, {"epochs": "100"})
    bad = {"activation": "sigmoidd", "lr": "-1", "layers": "8,x", "domain": "3,1"}
    status, answer, _ = call(lab, "POST", "/api/apply", {"session": session, "values": bad})
    assert status == 400
    assert set(answer["errors"]) == set(bad)
    assert "did you mean" in answer["errors"]["activation"]
    assert "> 0" in answer["errors"]["lr"]
    status, answer, _ = call(
        lab, "POST", "/api/apply", {"session": session, "values": {"activation": "tanh"}}
    )
    assert status == 200 and answer["errors"] == {}
    assert "--activation tanh" in answer["command"]


def test_a_conflict_between_settings_is_blamed_on_one_of_them(lab):
    session = new_session(lab)
    values = {"lr": "0.5", "optimizer": "sgd:lr=0.3"}
    status, answer, _ = call(lab, "POST", "/api/apply", {"session": session, "values": values})
    assert status == 400
    assert set(answer["errors"]) <= {"lr", "optimizer"}


@pytest.mark.parametrize(
    "formula",
    ["__import__('os').system('touch hacked')", "().__class__.__bases__", "open('x').read()"],
)
def test_a_hostile_formula_is_refused_and_never_run(lab, formula, tmp_path):
    status, answer, _ = call(lab, "POST", "/api/target", {"text": formula})
    assert status == 400
    assert "not allowed" in answer["error"] or "not a valid" in answer["error"]
    session = new_session(lab)
    status, answer, _ = call(
        lab, "POST", "/api/apply", {"session": session, "values": {"target": formula}}
    )
    assert status == 400 and "target" in answer["errors"]
    assert not (tmp_path / "hacked").exists()


@pytest.mark.parametrize(
    ("values", "seeds", "name"),
    [
        ({"epochs": str(LIMITS["epochs"] + 1)}, 1, "epochs"),
        ({"samples": str(LIMITS["samples"] + 1)}, 1, "samples"),
        ({"layers": str(LIMITS["units"] + 1)}, 1, "layers"),
        ({"layers": ",".join(["2"] * (LIMITS["layers"] + 1))}, 1, "layers"),
        ({}, LIMITS["seeds"] + 1, "seeds"),
        ({}, 0, "seeds"),
        ({"plugins": "evil.py"}, 1, "plugins"),
        ({"save_model": "/tmp/x.npz"}, 1, "save_model"),
    ],
)
def test_limits_and_the_labs_own_settings_are_refused(lab, values, seeds, name):
    session = new_session(lab)
    body = {"session": session, "values": values, "seeds": seeds}
    status, answer, _ = call(lab, "POST", "/api/apply", body)
    assert status == 400
    assert list(answer["errors"]) == [name]


def test_the_stream_shows_the_loss_falling_and_the_fit_changing(lab):
    session = new_session(lab, {"epochs": "3000"})
    got = frames(lab, session, until=lambda frame: frame["done"])
    assert got[-1]["done"] and got[-1]["epoch"] == 3000
    assert [f["epoch"] for f in got] == sorted(f["epoch"] for f in got)
    first_epochs_loss = got[-1]["losses"][0][0]
    assert got[-1]["loss"] < 0.2 * first_epochs_loss
    assert got[0]["fit"][0] != got[-1]["fit"][0]
    assert len(got[-1]["hidden"]) == 5  # the blog's five hidden units
    error = np.array(got[-1]["fit"][0]) - np.array(got[-1]["target"])
    assert np.allclose(got[-1]["error"], error)


def test_tabs_train_at_once_each_in_its_own_session(lab):
    narrow = new_session(lab, {"layers": "3", "epochs": "20000"})
    wide = new_session(lab, {"layers": "7", "epochs": "20000"})
    assert narrow != wide
    both = [lab.sessions[narrow], lab.sessions[wide]]
    wait_until(lambda: all(s.run.epochs_done > 0 for s in both))
    assert [len(frames(lab, s, 1)[0]["hidden"]) for s in (narrow, wide)] == [3, 7]


def test_seeds_train_stacked_with_a_median_between_quartiles(lab):
    session = new_session(lab, {"epochs": "300"}, seeds=4)
    frame = frames(lab, session, until=lambda frame: frame["done"])[-1]
    assert frame["seeds"] == 4
    q1, median, q3 = (
        np.array(v, dtype=float) for v in (frame["fit"][1], frame["fit"][0], frame["fit"][2])
    )
    assert np.all(q1 <= median + 1e-12) and np.all(median <= q3 + 1e-12)
    assert not np.allclose(q1, q3)  # four initial weights, four fits
    assert sum(frame["outcomes"].values()) == 4


def test_the_sweep_line_shown_for_several_seeds_trains_the_same_runs(lab):
    values = {"epochs": "150", "activation": "tanh", "seed": "7", "plot_domain": "0,9"}
    session = new_session(lab, values, seeds=3)
    run = lab.sessions[session].run
    wait_until(lambda: run.finished)
    _, answer, _ = call(
        lab, "POST", "/api/apply", {"session": session, "values": values, "seeds": 3}
    )
    words = answer["command"].split()
    assert words[:2] == ["minifw", "sweep"] and words[-4:] == ["--seeds", "3", "--sweep-seed", "7"]
    args = build_parser().parse_args(words[1:])
    config, _ = configuration(args, BASE_SETTINGS)
    results = sweep(config, {}, args.seeds, sweep_seed=args.sweep_seed)
    np.testing.assert_array_equal([row.final_loss for row in results], run.losses()[-1])


def test_diverged_and_flat_seeds_are_counted():
    session = LabSession("t", RunConfig(record=False))
    values = {"activation": "tanh", "output_activation": "identity", "lr": "20", "epochs": "50"}
    assert session.apply(values, 3) == {}
    wait_until(lambda: session.run.finished)
    assert session.run.outcomes() == {"diverged": 3, "flat": 0, "learned": 0}
    dead = {"activation": "relu", "output_activation": "identity", "lr": "5", "epochs": "50"}
    assert session.apply(dead, 2) == {}  # every ReLU unit dies: the net predicts a constant
    wait_until(lambda: session.run.finished)
    assert session.run.outcomes() == {"diverged": 0, "flat": 2, "learned": 0}
    assert session.apply({"epochs": "3000"}, 2) == {}
    wait_until(lambda: session.run.finished)
    assert session.run.outcomes() == {"diverged": 0, "flat": 0, "learned": 2}
    session.close()


def test_several_seeds_need_runs_that_stack(lab):
    session = new_session(lab)
    body = {"session": session, "values": {"shuffle": "true"}, "seeds": 3}
    status, answer, _ = call(lab, "POST", "/api/apply", body)
    assert status == 400
    assert "shuffle" in answer["errors"]["seeds"]


def test_pause_step_resume_and_reset():
    session = LabSession("t", RunConfig(record=False))
    assert session.apply({"epochs": "20000", "engine": "numpy"}) == {}
    wait_until(lambda: session.run.epochs_done > 0)
    session.control("pause")
    time.sleep(0.1)  # the chunk under way ends
    paused_at = session.run.epochs_done
    time.sleep(0.2)
    assert session.run.epochs_done == paused_at
    session.control("step")
    wait_until(lambda: session.run.epochs_done == paused_at + 1)
    session.control("reset")
    assert session.run.epochs_done == 0
    session.control("resume")
    wait_until(lambda: session.run.epochs_done > 10)
    with pytest.raises(minifw.ConfigError, match="unknown action"):
        session.control("explode")
    session.close()
    assert session.join(5)


def test_frames_are_dropped_not_queued_and_training_never_waits_for_the_page():
    session = LabSession("t", RunConfig(record=False))
    assert session.apply({"epochs": "3000"}) == {}
    version, _ = session.wait_frame(0, 1)
    # Nobody reads, and training ends all the same.
    wait_until(lambda: session.wait_frame(0, 0)[1]["done"])
    later, frame = session.wait_frame(version, 1)
    assert later > version + 1  # the frames in between were replaced, not kept
    assert frame["epoch"] == 3000
    session.close()


def test_closing_the_stream_stops_the_sessions_training(lab):
    session_id = new_session(lab, {"epochs": "20000", "samples": "400", "engine": "numpy"})
    session = lab.sessions[session_id]
    frames(lab, session_id, 2)  # then the connection closes, as a closed tab's does
    wait_until(lambda: session_id not in lab.sessions, 5)
    assert session.closed and session.join(5)
    assert not session.run.finished


def test_a_session_whose_page_never_listens_is_closed(lab, monkeypatch):
    monkeypatch.setattr(lab_server, "ORPHAN_SECONDS", 0.2)
    session_id = new_session(lab, {"epochs": "5"})
    wait_until(lambda: session_id not in lab.sessions, 5)


def test_sessions_are_limited(lab, monkeypatch):
    monkeypatch.setattr(lab_server, "MAX_SESSIONS", len(lab.sessions) + 1)
    new_session(lab)
    status, answer, _ = call(lab, "POST", "/api/session", {})
    assert status == 400
    assert "close one" in answer["error"]


def test_pinned_runs_are_compared_and_recorded_in_the_ledger(lab, capsys):
    session = new_session(lab, {"epochs": "200"})
    wait_until(lambda: lab.sessions[session].run.finished)
    status, first, _ = call(lab, "POST", "/api/pin", {"session": session})
    assert [row["label"] for row in first["rows"]] == ["pin 1", "now"]
    assert status == 200
    call(
        lab,
        "POST",
        "/api/apply",
        {"session": session, "values": {"epochs": "200", "activation": "tanh"}},
    )
    wait_until(lambda: lab.sessions[session].run.finished)
    status, table, _ = call(lab, "POST", "/api/pin", {"session": session})
    assert "activation" in table["columns"]
    column = table["columns"].index("activation")
    assert [row["values"][column] for row in table["rows"]] == ["sigmoid", "tanh", "tanh"]
    frame = lab.sessions[session].wait_frame(0, 1)[1]
    assert [p["label"] for p in frame["pins"]] == ["pin 1", "pin 2"]
    ids = [row["record"] for row in table["rows"][:2]]
    records = {r.id: r for r in Ledger(lab.base.runs_dir).records()}
    assert set(ids) <= set(records)
    assert records[ids[1]].config["network"]["activation"] == "tanh"
    # What trained, not what was asked: auto chose the kernels (the lab's default is auto).
    assert lab.sessions[session].run.config.engine == "auto"
    assert {records[i].config["training"]["engine"] for i in ids} == {"compiled"}
    assert main(["runs", "--runs-dir", lab.base.runs_dir]) == 0
    listed = capsys.readouterr().out
    assert all(i in listed for i in ids)
    status, table, _ = call(lab, "POST", "/api/unpin", {"session": session, "index": 0})
    assert [row["label"] for row in table["rows"]] == ["pin 2", "now"]


def test_downloads_are_a_model_minifw_loads_a_figure_a_film_and_the_configuration(lab, tmp_path):
    session = new_session(lab, {"epochs": "12", "activation": "tanh", "layers": "4"})
    run = lab.sessions[session].run
    wait_until(lambda: run.finished)
    status, body, _ = call(lab, "GET", f"/api/download/model.npz?session={session}")
    assert status == 200
    (tmp_path / "m.npz").write_bytes(body)
    network = minifw.load(tmp_path / "m.npz")
    x = np.linspace(0, 6, 7)[:, None]
    np.testing.assert_array_equal(network.predict(x), run.trainer.network.predict(x))
    status, body, _ = call(lab, "GET", f"/api/download/run.toml?session={session}")
    (tmp_path / "run.toml").write_bytes(body)
    assert RunConfig.load(tmp_path / "run.toml") == RunConfig(
        epochs=12, activation="tanh", layers=(4,)
    )
    for name, magic in [
        ("figure.png", b"\x89PNG"),
        ("figure.svg", b"<?xml"),
        ("film.gif", b"GIF8"),
    ]:
        status, body, _ = call(lab, "GET", f"/api/download/{name}?session={session}")
        assert status == 200 and body.startswith(magic), name
    status, answer, _ = call(lab, "GET", f"/api/download/secrets.txt?session={session}")
    assert status == 400 and "no download" in answer["error"]


def test_the_command_line_shown_trains_the_same_run(lab):
    session = new_session(lab)
    values = {"activation": "tanh", "layers": "8,8", "domain": "-1,7", "bias": "false", "lr": "0.3"}
    status, answer, _ = call(lab, "POST", "/api/apply", {"session": session, "values": values})
    assert status == 200
    words = answer["command"].split()
    assert words[:2] == ["minifw", "train"]
    typed, _ = configuration(build_parser().parse_args(words[1:]))
    run = lab.sessions[session].run.config
    assert (typed.activation, typed.layers, typed.domain, typed.bias, typed.lr) == (
        run.activation,
        run.layers,
        run.domain,
        run.bias,
        run.lr,
    )
    assert "--plugin" in words  # the server's plugin, which the run needs


def test_ctrl_c_stops_the_server_in_one_line_even_while_a_tab_trains():
    command = [sys.executable, "-m", "minifw", "lab", "--no-browser", "--port", "0"]
    # SIGINT as a terminal's Ctrl-C sends it (a shell's background jobs would ignore it).
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    first = process.stdout.readline()
    assert first.startswith("minifw lab at http://127.0.0.1:") and "token=" in first
    address = re.search(r"127\.0\.0\.1:(\d+)/\?token=(\S+)", first)
    port, token = int(address[1]), address[2]
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    body = json.dumps({"values": {"epochs": "20000"}})
    connection.request(
        "POST", f"/api/session?token={token}", body, {"Content-Type": "application/json"}
    )
    session = json.loads(connection.getresponse().read())["session"]
    stream = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    stream.request("GET", f"/api/stream?session={session}&token={token}")
    assert stream.getresponse().fp.readline().startswith(b"data: ")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=20)
    assert process.returncode == 0
    assert out == "minifw lab stopped.\n"
    assert err == ""


def test_the_chart_library_ships_with_its_licence():
    static = Path(lab_server.STATIC)
    assert "MIT License" in (static / "uPlot-LICENSE.txt").read_text()
    page = (static / "index.html").read_text()
    assert "http" not in page.replace("http-equiv", "")  # nothing from a CDN
