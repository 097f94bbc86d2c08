"""Headless Chromium through Selenium with the system chromedriver (no driver downloads)."""

from __future__ import annotations

import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--disable-quic", "--disable-dev-shm-usage"]


@contextmanager
def chromium():
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_bin = shutil.which("chromedriver")
    if not binary or not driver_bin:
        pytest.skip("headless Chromium not installed (Debian packages chromium, chromium-driver; make test installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    profile = tempfile.mkdtemp(prefix="ck-chrome-")
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    opts.page_load_strategy = "eager"
    driver = webdriver.Chrome(service=Service(driver_bin), options=opts)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver, path: Path, timeout: float = 20.0) -> None:
    """Load a local HTML file and wait until every image has finished loading (or failed)."""
    driver.get(Path(path).resolve().as_uri())
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = driver.execute_script("return Array.from(document.images).every(i => i.complete)")
        if done:
            return
        time.sleep(0.1)
    raise AssertionError(f"images of {path} did not finish loading in {timeout} s")


def page_facts(driver) -> dict:
    """What the rendered DOM says: summary counts, rows by status, image sizes."""
    return driver.execute_script(
        """
        const score = document.getElementById('ck-score');
        const rows = Array.from(document.querySelectorAll('#ck-table tbody tr'));
        return {
          summary: !!document.getElementById('coursekit-summary'),
          passed: score ? parseInt(score.dataset.passed) : null,
          total: score ? parseInt(score.dataset.total) : null,
          points: score && score.dataset.points ? parseFloat(score.dataset.points) : null,
          max: score && score.dataset.max ? parseFloat(score.dataset.max) : null,
          statuses: rows.map(r => r.dataset.status),
          widths: Array.from(document.images).map(i => i.naturalWidth),
          text: document.body.innerText.slice(0, 200),
        };
        """
    )


def question_facts(driver) -> dict:
    """What a page by question shows: the question, rubric criteria, model answer, each answer."""
    return driver.execute_script(
        """
        const q = document.getElementById('ck-question');
        const answers = Array.from(document.querySelectorAll('#ck-answers article.ck-answer'));
        return {
          question: q ? q.dataset.question : null,
          criteria: Array.from(document.querySelectorAll('#ck-rubric li.ck-criterion')).map(li => li.innerText.trim()),
          model: (document.getElementById('ck-model') || {innerText: ''}).innerText.trim(),
          students: answers.map(a => a.dataset.student),
          empty: answers.filter(a => a.dataset.empty === 'true').map(a => a.dataset.student),
          answer_images: answers.reduce((n, a) => n + a.querySelectorAll('img').length, 0),
          images: document.images.length,
          widths: Array.from(document.images).map(i => i.naturalWidth),
        };
        """
    )


def offline(driver) -> None:
    """Cut the browser's network (DevTools): a page that needs a CDN shows it at once."""
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.emulateNetworkConditions",
                           {"offline": True, "latency": 0, "downloadThroughput": 0, "uploadThroughput": 0})


def rendering_facts(driver, timeout: float = 20.0) -> dict:
    """What a reader sees once MathJax is done: the visible text, typeset math, remote resources
    the page asked for, and the computed style of the kit's check and claim boxes."""
    script = """
        const boxes = sel => Array.from(document.querySelectorAll(sel)).map(e => {
          const s = getComputedStyle(e);
          return {border: s.borderLeftWidth + ' ' + s.borderLeftStyle, colour: s.borderLeftColor,
                  background: s.backgroundColor};
        });
        const tex = (document.body.innerText.match(/\\$[^$\\n]+\\$/g) || []).length;
        const queued = document.querySelectorAll('script[type^="math/tex"]').length;
        const hub = window.MathJax && window.MathJax.Hub && window.MathJax.Hub.queue;
        return {
          done: !!hub && hub.pending === 0 && hub.running === 0
                && document.querySelectorAll('.MathJax, .MathJax_Display').length >= queued,
          text: document.body.innerText,
          mathjax: document.querySelectorAll('.MathJax, .MathJax_Display, .MathJax_MathML').length,
          math: document.querySelectorAll('math').length,
          tex_left: tex,
          mathjax_ready: !!(window.MathJax && window.MathJax.isReady),
          remote: performance.getEntriesByType('resource').map(r => r.name).filter(n => !n.startsWith('file:')
                                                                                   && !n.startsWith('data:')),
          checks: boxes('.coursekit-check'),
          claims: boxes('.coursekit-claim'),
        };
    """
    end = time.monotonic() + timeout
    facts = driver.execute_script(script)
    while time.monotonic() < end and not (facts["mathjax_ready"] and facts["done"] and not facts["tex_left"]):
        time.sleep(0.2)
        facts = driver.execute_script(script)
    facts["failed_loads"] = [entry["message"] for entry in driver.get_log("browser")
                             if "Failed to load resource" in entry.get("message", "")]
    return facts


def assert_reads_like_a_notebook(facts: dict, *, math: bool = True, boxes: bool = False) -> None:
    """No markup shown as text, math typeset offline, nothing fetched, boxes styled."""
    for literal in ("<h1", "<h2", "<p>", "</p>", "<br>", "<li>", "&lt;"):
        assert literal not in facts["text"], f"{literal!r} shows as text"
    assert facts["remote"] == [], facts["remote"]
    assert facts["failed_loads"] == [], facts["failed_loads"]
    if math:
        assert facts["mathjax_ready"] and facts["mathjax"] > 0 and facts["math"] > 0, facts
        assert facts["tex_left"] == 0, "raw TeX left on the page"
    if boxes:
        for box in facts["checks"] + facts["claims"]:
            assert box["border"].startswith("4px solid"), box
            assert box["colour"] not in ("rgb(0, 0, 0)", "rgba(0, 0, 0, 0)"), box
