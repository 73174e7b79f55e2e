"""The backward player in a real browser: headless Chromium, driven by selenium, opens the
HTML file from disk, steps through it with the buttons, the slider and the keyboard, and must
make no network request and log no console error.

Needs Debian's ``chromium`` and ``chromium-driver`` (run.py installs them when run as root)
and Graphviz ``dot``. Skipped when they are missing, except in CI (env CI set), where that fails.
"""

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from tinygrad_ae import Tensor, explain_backward

try:  # the test extra (pyproject.toml); without it the test is skipped, except in CI
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
except ImportError:
    webdriver = None

pytestmark = [pytest.mark.browser, pytest.mark.render]

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
DRIVER = ("chromedriver",)


def _which(names):
    return next((path for path in map(shutil.which, names) if path), None)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with its console and network (performance) logs switched on."""
    chromium, driver_path = _which(CHROMIUM), _which(DRIVER)
    missing = [name for name, found in (("chromium", chromium), ("chromium-driver", driver_path),
                                        ("graphviz", shutil.which("dot")), ("selenium", webdriver)) if not found]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser test, but {', '.join(missing)} is missing "
                        "(python3 run.py test installs them when run as root)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver "
                    "graphviz; pip install selenium)")

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))
    yield driver
    driver.quit()


def small_trace():
    """loss = (a * b + c) * a: a scalar lesson with a diamond (a is used twice)."""
    a = Tensor(2.0, requires_grad=True, name="a")
    b = Tensor(3.0, requires_grad=True, name="b")
    c = Tensor(4.0, requires_grad=True, name="c")
    loss = (a * b + c) * a
    loss.name = "loss"
    return explain_backward(loss)


def state(driver):
    """What the player shows now: step number, the step text, and the highlighted op's node."""
    return driver.execute_script("""
        var root = document.querySelector('.tgae-player');
        var op = root.querySelector('.tgae-graph ellipse[fill="orange"]');
        return {step: root.getAttribute('data-step'), text: root.querySelector('.tgae-text').textContent,
                where: root.querySelector('.tgae-where').textContent,
                highlighted: op ? op.parentNode.querySelector('title').textContent : null,
                slider: root.querySelector('.tgae-slider').value};""")


def test_player_steps_in_a_real_browser_offline(browser, tmp_path):
    trace = small_trace()
    page = Path(trace.to_html(tmp_path / "backward.html"))
    browser.get_log("browser"), browser.get_log("performance")  # start from empty logs
    browser.get(page.as_uri())

    first = state(browser)
    assert first["step"] == "1" and first["highlighted"] and "step 1" in first["text"]
    assert first["where"] == f"frame 1 of {len(trace)}"

    browser.find_element(By.CSS_SELECTOR, ".tgae-next").click()
    second = state(browser)
    assert second["step"] == "2" and "step 2" in second["text"]
    assert second["highlighted"] != first["highlighted"] and second["text"] != first["text"]

    slider = browser.find_element(By.CSS_SELECTOR, ".tgae-slider")
    slider.send_keys(Keys.END)  # the slider's own keyboard handling: to the last step
    last = state(browser)
    assert last["step"] == str(len(trace)) and last["slider"] == str(len(trace) - 1)
    assert "the last word" in last["text"] and "a.grad = " + str(int(trace.leaves()[0][1])) in last["text"]
    assert last["highlighted"] not in (None, second["highlighted"])

    browser.find_element(By.CSS_SELECTOR, ".tgae-prev").click()
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ARROW_LEFT)  # the page's arrows
    assert state(browser)["step"] == str(len(trace) - 2)

    screenshot = Path(os.environ.get("TINYGRAD_AE_ARTIFACTS", tmp_path)) / "backward_player.png"
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    assert browser.save_screenshot(str(screenshot))
    image = Image.open(screenshot).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20) or []
    assert image.width >= 800 and len(colours) > 50, "the screenshot is (nearly) blank"
    assert max(ImageStat.Stat(image).stddev) > 20, "the screenshot is (nearly) one colour"

    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == [], errors
    requests = [json.loads(entry["message"])["message"] for entry in browser.get_log("performance")]
    urls = [m["params"]["request"]["url"] for m in requests if m["method"] == "Network.requestWillBeSent"]
    assert all(url == page.as_uri() for url in urls), urls  # the file itself, nothing else
    assert browser.execute_script("return performance.getEntriesByType('resource').length") == 0
