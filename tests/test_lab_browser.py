"""minifw lab in a real browser: Playwright drives headless Chromium (Debian's /usr/bin/chromium).

Without playwright or Chromium these tests skip and say why, unless
MINIFW_REQUIRE_BROWSER=1 (as CI sets it), when they fail instead. With
MINIFW_LAB_SCREENSHOTS=DIR they also write the docs' screenshots (lab-*.png) to DIR:
``MINIFW_LAB_SCREENSHOTS=docs/images pytest tests/test_lab_browser.py``.
"""

import os
import re
import time
from pathlib import Path

import numpy as np
import pytest

import minifw
from minifw.lab.web.browser import CHROMIUM, headless_chromium
from minifw.lab.web.controls import controls
from minifw.lab.web.server import LabServer

# Resolved now: each test runs in a temporary directory of its own (conftest.py).
SCREENSHOTS = (
    os.environ.get("MINIFW_LAB_SCREENSHOTS")
    and Path(os.environ["MINIFW_LAB_SCREENSHOTS"]).resolve()
)


def _missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _missing()
    if missing:
        if os.environ.get("MINIFW_REQUIRE_BROWSER") == "1":
            pytest.fail(f"MINIFW_REQUIRE_BROWSER=1, but {missing}")
        pytest.skip(missing)
    with headless_chromium() as chromium:
        yield chromium


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    with LabServer(0, runs_dir=str(tmp_path_factory.mktemp("lab") / "runs")).running() as server:
        yield server


@pytest.fixture
def page(browser, lab):
    # The page's policy forbids evaluating strings, as wait_for_function does: lifted for tests.
    context = browser.new_context(
        viewport={"width": 1400, "height": 900}, accept_downloads=True, bypass_csp=True
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(lab.url)
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    yield page
    context.close()
    assert errors == []  # no JavaScript error on the way


# The screenshots these tests take for docs/lab.md, by name: lab-NAME.png.
SHOTS = ("training", "seeds", "compare", "formula-error")


def test_the_docs_show_every_screenshot_these_tests_take():
    text = (Path(__file__).resolve().parent.parent / "docs" / "lab.md").read_text()
    shown = re.findall(r"\(images/(lab-[\w-]+\.png)\)", text)
    assert sorted(shown) == sorted(f"lab-{name}.png" for name in SHOTS)


def shoot(page, name):
    """Write the docs' screenshot ``lab-NAME.png`` when asked to."""
    assert name in SHOTS
    if SCREENSHOTS:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"lab-{name}.png"))


def epoch(page):
    return int(page.text_content("#epoch"))


def set_value(page, name, text):
    page.fill(f'[name="{name}"]', text)


def set_epochs(page, epochs):
    """Set the epochs and wait for the run that has them: the frames of the one before may
    still be arriving. The numpy engine: the compiled one may finish before a test looks."""
    page.select_option('[name="engine"]', "numpy")
    set_value(page, "epochs", str(epochs))
    wait_for(page, f"document.querySelector('#epochs').textContent === '{epochs}'")


def wait_for(page, expression, seconds=10):
    page.wait_for_function(expression, timeout=seconds * 1000)


def test_the_page_has_a_control_for_every_setting_and_four_charts(page):
    for control in controls():
        assert page.locator(f'[name="{control["name"]}"]').count() == 1, control["name"]
    assert page.locator(".chart canvas").count() == 4
    assert page.text_content("#command").startswith("minifw train")


def test_changing_the_activation_and_the_hidden_size_retrains(page):
    set_value(page, "activation", "tanh")
    set_value(page, "layers", "8")
    wait_for(page, "document.querySelector('#command').textContent.includes('--layers 8')")
    command = page.text_content("#command")
    assert "--activation tanh" in command
    # The hidden units chart has a line per unit, each in its legend.
    wait_for(page, "document.querySelectorAll('#chart-hidden .u-series').length === 8")


def test_training_shows_the_loss_falling_and_the_charts_changing(page):
    set_value(page, "plot_domain", "-1.5,8.5")  # past the training domain: shaded
    set_epochs(page, 20000)
    wait_for(page, "Number(document.querySelector('#epoch').textContent) > 200")
    # Paused, so that what is compared is one moment of training, however fast it runs.
    page.click("#pause")
    wait_for(page, "document.querySelector('#pause').textContent === 'Resume'")
    first_loss = float(page.text_content("#loss"))
    first_fit = page.locator("#chart-fit canvas").screenshot()
    first_epoch = epoch(page)
    page.click("#pause")
    wait_for(page, f"Number(document.querySelector('#epoch').textContent) > {first_epoch + 3000}")
    page.click("#pause")
    wait_for(page, "document.querySelector('#pause').textContent === 'Resume'")
    shoot(page, "training")
    assert float(page.text_content("#loss")) < first_loss
    assert page.locator("#chart-fit canvas").screenshot() != first_fit
    stats = page.evaluate("window.labStats")
    assert 2 <= stats["drawn"] <= stats["frames"]  # a frame is drawn once at most


def test_pause_step_resume_and_reset(page):
    set_epochs(page, 20000)
    wait_for(page, "Number(document.querySelector('#epoch').textContent) > 0")
    page.click("#pause")
    wait_for(page, "document.querySelector('#pause').textContent === 'Resume'")
    time.sleep(0.2)
    paused = epoch(page)
    page.click("#step")
    wait_for(page, f"Number(document.querySelector('#epoch').textContent) === {paused + 1}")
    page.click("#reset")
    wait_for(page, "Number(document.querySelector('#epoch').textContent) === 0")
    page.click("#pause")  # reads Resume
    wait_for(page, "Number(document.querySelector('#epoch').textContent) > 0")


def test_seeds_show_a_median_band_and_the_outcomes(page):
    set_epochs(page, 4000)
    set_value(page, "seeds", "8")
    wait_for(page, "document.querySelector('#outcomes').textContent.startsWith('8 seeds')")
    wait_for(page, "Number(document.querySelector('#epoch').textContent) > 1000")
    shoot(page, "seeds")
    counts = re.findall(r"\d+", page.text_content("#outcomes"))
    assert sum(map(int, counts[1:])) == 8
    assert page.text_content("#command").endswith("--seeds 8 --sweep-seed 0")


def test_pin_change_a_knob_and_compare(page):
    set_epochs(page, 1000)
    wait_for(page, "document.querySelector('#epoch').textContent === '1000'")
    page.click("#pin")
    wait_for(page, "document.querySelectorAll('#pins tr').length === 3")  # header, pin, now
    set_value(page, "activation", "tanh")
    wait_for(page, "document.querySelector('#pins').textContent.includes('tanh')")
    # The pinned run is drawn over the new one, in the fit and the loss charts.
    wait_for(page, "document.querySelector('#chart-fit').textContent.includes('pin 1')")
    assert "pin 1" in page.text_content("#chart-loss")
    header = page.locator("#pins tr").first.text_content()
    assert "activation" in header
    wait_for(page, "document.querySelector('#epoch').textContent === '1000'")
    shoot(page, "compare")


def test_the_model_download_is_a_file_minifw_loads(page, tmp_path):
    set_epochs(page, 50)
    wait_for(page, "document.querySelector('#epoch').textContent === '50'")
    with page.expect_download() as download:
        page.click("text=model (.npz)")
    path = tmp_path / "model.npz"
    download.value.save_as(path)
    network = minifw.load(path)
    assert network.predict(np.array([[1.0]])).shape == (1, 1)


def test_a_formula_draws_as_it_is_typed_and_a_hostile_one_shows_its_error(page):
    set_value(page, "target", "exp(-x/3)*sin(2*x)")
    wait_for(page, "document.querySelector('#command').textContent.includes('exp(-x/3)')")
    assert page.text_content("#error-target") == ""
    set_value(page, "target", "__import__('os').system('echo hacked')")
    wait_for(page, "document.querySelector('#error-target').textContent.includes('not allowed')")
    assert "exp(-x/3)" in page.text_content("#command")  # the run before it goes on
    shoot(page, "formula-error")


def test_closing_the_tab_stops_its_training(page, lab):
    set_epochs(page, 20000)
    link = page.get_attribute("#downloads a", "href")  # names the tab's session
    session = lab.sessions[link.partition("session=")[2]]
    assert session.run.config.epochs == 20000
    page.close()
    deadline = time.monotonic() + 5
    while session.id in lab.sessions:
        assert time.monotonic() < deadline, "the session outlived its tab"
        time.sleep(0.05)
    assert session.join(5)
    assert not session.run.finished


def test_the_token_is_required(browser, lab):
    context = browser.new_context()
    page = context.new_page()
    response = page.goto(f"http://127.0.0.1:{lab.port}/")
    assert response.status == 403
    assert "token" in page.text_content("body")
    response = page.goto(f"http://127.0.0.1:{lab.port}/api/controls")
    assert response.status == 403
    # With the token, the page works under its own security policy (the other tests lift it).
    refused = []
    page.on("console", lambda message: refused.append(message.text))
    page.goto(lab.url)
    page.wait_for_selector("body[data-ready=true]", timeout=10_000)
    page.wait_for_selector("#chart-fit canvas")
    assert page.locator(".chart canvas").count() == 4
    assert not [m for m in refused if "Content Security Policy" in m]
    context.close()
