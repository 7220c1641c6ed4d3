"""The static web calculator: self-contained, generated from the exported closed forms, and, in a real headless
Chromium, showing the numbers ClosedForm.evaluate gives (1e-9 relative) for URLs and for typing."""

from __future__ import annotations

import argparse
import io
import random
import re
import time
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from inferonomics.optimize.cli import main
from inferonomics.optimize.commands.catalog_args import resolve_catalog_values
from inferonomics.optimize.commands.evaluate import RAW_FLAGS
from inferonomics.optimize.web import build_page
from inferonomics.optimize.web import spec
from inferonomics.symbolic import catalog
from inferonomics.symbolic.errors import ConditionError, InferonomicsError, InvalidInputError
from inferonomics.symbolic.export import export
from inferonomics.symbolic.formulas import all_formulas, get_formula

import browser as wd

#: the essay's example as typed from the essay and symbolic/essay.py's comments (not read from the code):
#: 1.6e12 8-bit parameters, 3e15 FLOP/s, 3e12 B/s, 20 chips, batch 100, 1000 users at 10 min/day, and the
#: labelled illustrative refinements (KV bytes, layers, hop latency, the $2 chip-hour)
ESSAY = {"total_params": 1.6e12, "bytes_per_weight": 1.0, "peak_flop_per_s": 3e15, "hbm_bandwidth_bytes_per_s": 3e12,
         "tp": 20.0, "batch": 100.0, "context": 0.0, "kv_bytes_per_token": 327680.0, "n_layers": 160.0,
         "link_latency_s": 1e-6, "allreduces_per_layer": 2.0, "overhead_s": 0.0, "concurrency": 1000.0,
         "minutes_per_day": 10.0, "mean_to_trough": 1.0, "price_usd_per_chip_hour": 2.0,
         "n_kv_heads": 8.0}  # the 8 KV heads are the derivation's labelled illustrative assumption
#: flag -> symbol as the CLI names them (evaluate's flags, the usage commands' flags)
FLAG_SYMBOL = {f.replace("_", "-"): sym for f, sym in RAW_FLAGS.items()} | {
    "minutes-per-day": "minutes_per_day", "mean-to-trough": "mean_to_trough", "concurrency": "concurrency",
    "kv-heads": "n_kv_heads"}


@pytest.fixture(scope="module")
def page() -> str:
    return build_page()


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(page: str) -> list[tuple[str, dict]]:
    p = _Collect()
    p.feed(page)
    return p.tags


def _shown() -> list[str]:
    names = {f.name for f in all_formulas()}
    return [o.name for o in spec.OUTPUTS if o.name in names]


# -- the page as a file --------------------------------------------------------------------------------------
def test_page_is_self_contained_and_small(page):
    assert len(page.encode()) <= 2_000_000
    for tag, attrs in _tags(page):
        assert tag != "link" or attrs.get("href", "").startswith("data:"), attrs
        assert not (tag == "script" and "src" in attrs), attrs
        for key in ("src", "href"):
            assert not re.match(r"(https?:)?//", attrs.get(key) or ""), (tag, attrs)
    assert "@import" not in page and "url(" not in page
    assert page.lower().count("<script") == 1


def test_page_inlines_each_exported_module_verbatim(page):
    for name in _shown():
        (text,) = export(get_formula(name), "javascript").values()
        assert text in page, name


def test_each_output_carries_its_closed_form_name(page):
    outputs = [a["data-formula"] for t, a in _tags(page) if t == "output"]
    assert outputs == _shown()
    assert {"break_even_batch", "break_even_batch_with_kv", "critical_context", "utilization", "latency_floor",
            "min_user_base"} <= set(outputs)


def test_formulas_without_a_closed_form_are_named_in_the_footer(page):
    names = {f.name for f in all_formulas()}
    for o in spec.OUTPUTS:
        assert (f"<code>{o.name}</code>" in page.split("<footer>")[1]) == (o.name not in names), o.name


def test_any_formula_can_be_wired_by_name(monkeypatch):
    """A closed form whose argument (the API price) has no field of its own gets a generic one."""
    monkeypatch.setattr(spec, "OUTPUTS", (*spec.OUTPUTS, spec.Output("api_price_crossover", "API crossover")))
    from inferonomics.optimize.web import data

    monkeypatch.setattr(data, "OUTPUTS", spec.OUTPUTS)
    html = build_page()
    assert 'data-formula="api_price_crossover"' in html
    assert 'id="in-api-price-usd-per-mtok"' in html


def test_default_price_is_the_seeds_illustrative_price():
    from inferonomics.optimize.essay import ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR
    from inferonomics.optimize.web import data

    assert data.defaults()["price_usd_per_chip_hour"] == ILLUSTRATIVE_PRICE_USD_PER_CHIP_HOUR == ESSAY[
        "price_usd_per_chip_hour"]


def test_generation_is_deterministic(page):
    assert build_page() == page


def test_cli_writes_index_html(tmp_path, capsys):
    assert main(["web", "-o", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "index.html").read_text(encoding="utf-8") == build_page()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["web", "-o", str(blocker)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "-o" in err[0]


def test_derive_writes_the_calculator(page):
    """derive's files include the page (test_derivations checks every one of them is committed current)."""
    from pathlib import Path

    from inferonomics.optimize.derivation import CALCULATOR, _calculator_page

    assert _calculator_page() == page.encode()
    committed = Path(__file__).resolve().parents[1] / "derivations" / CALCULATOR
    assert committed.read_bytes() == page.encode(), "run `inferonomics derive --out derivations`"


# -- in a real browser ---------------------------------------------------------------------------------------
needs_chromium = pytest.mark.skipif(wd.chromium() is None,
                                    reason="chromium and chromium-driver are not installed (CI installs them)")


@pytest.fixture(scope="module")
def site(tmp_path_factory, page):
    folder = tmp_path_factory.mktemp("site")
    (folder / "index.html").write_text(page, encoding="utf-8")
    return (folder / "index.html").as_uri()


@pytest.fixture(scope="module")
def chrome():
    with wd.Browser() as b:
        yield b


@pytest.fixture
def browser(chrome):
    """The shared browser; any JavaScript error or console error during the test fails it."""
    chrome.console()
    yield chrome
    errors = [e for e in chrome.console() if e["level"] == "SEVERE"]
    assert not errors, errors


def _load(b: wd.Browser, site: str, params: dict) -> None:
    b.get(site + ("?" + urlencode(params) if params else ""))
    b.wait("return document.documentElement.dataset.readyMs")


def _read(b: wd.Browser) -> dict:
    return b.run("""return Object.fromEntries([...document.querySelectorAll('output[data-formula]')].map(o => [
        o.dataset.formula, {text: o.textContent, valid: o.dataset.valid,
        holds: [...document.querySelectorAll(`#out-${o.dataset.formula} li[data-condition]`)]
               .map(li => li.dataset.holds)}]))""")


def _reference(params: dict) -> dict:
    """What the page must show, from the CLI's own resolution of the flags and ClosedForm.evaluate."""
    ns = argparse.Namespace(model=params.get("model"), hardware=params.get("hardware"),
                            precision=params.get("precision"), kv_precision=None, activation_precision=None,
                            model_config=None, hardware_file=None, model_file=None, set=None)
    values = dict(ESSAY)
    values.update(resolve_catalog_values(ns))
    values.update({FLAG_SYMBOL[k]: float(v) for k, v in params.items() if k in FLAG_SYMBOL})
    return values


def _check(shown: dict, values: dict, where: str) -> None:
    assert sorted(shown) == sorted(_shown()), where  # (WebDriver returns object keys sorted)
    for name, got in shown.items():
        f = get_formula(name)
        try:
            want = f.evaluate(values)
        except ConditionError:
            assert (got["valid"], got["text"]) == ("false", "none"), (where, name, got)
            failed = f.failed_conditions(values)
            assert got["holds"] == [str(t not in failed).lower() for t in f.condition_text], (where, name)
            continue
        except InvalidInputError:  # an argument with no value: the page must say it needs one
            assert (got["valid"], got["text"]) == ("false", "\u2014"), (where, name, got)
            continue
        assert got["valid"] == "true", (where, name, got)
        assert got["holds"] == ["true"] * len(f.conditions), (where, name)
        assert float(got["text"]) == pytest.approx(want, rel=1e-9, abs=0), (where, name, got["text"], want)


def _random_params(rng: random.Random) -> dict:
    p: dict = {}
    kind = rng.choice(["catalog", "catalog", "catalog", "raw", "card", "model"])
    if kind in ("catalog", "model"):
        p["model"] = rng.choice(catalog.list_models())
    if kind in ("catalog", "card"):
        p["hardware"] = rng.choice(catalog.list_hardware())
    if kind != "raw" and rng.random() < 0.6:
        p["precision"] = rng.choice(catalog.list_precisions())
    if kind == "raw" or rng.random() < 0.2:
        p.update({"params": f"{10 ** rng.uniform(9, 12.5):.6g}", "bytes-per-weight": rng.choice(["0.5", "1", "2"]),
                  "kv-bytes-per-token": f"{10 ** rng.uniform(4, 6.5):.5g}", "layers": str(rng.randint(16, 128))})
    if kind in ("raw", "model") or rng.random() < 0.2:
        p.update({"peak-flops": f"{10 ** rng.uniform(14, 16):.5g}",
                  "hbm-bandwidth": f"{10 ** rng.uniform(11.5, 13):.5g}"})
    p.update({"tp": str(rng.choice([1, 2, 4, 8, 16, 20, 64])), "batch": f"{10 ** rng.uniform(0, 4):.6g}",
              "context": str(rng.choice([0, rng.randint(1, 256), rng.randint(256, 200_000)])),
              "concurrency": str(rng.randint(1, 100_000)), "minutes-per-day": f"{rng.uniform(1, 240):.4g}",
              "mean-to-trough": f"{rng.uniform(1, 4):.3g}", "allreduces-per-layer": rng.choice(["1", "2"]),
              "overhead-s": rng.choice(["0", "1e-4", "0.002"])})
    if rng.random() < 0.5:
        p["link-latency-s"] = f"{10 ** rng.uniform(-7, -5):.3g}"
    return p


@needs_chromium
def test_opens_on_the_essays_example(browser, site):
    _load(browser, site, {})
    shown = _read(browser)
    # by hand: F b_w / 2W = 3e15 / 6e12; U(100) = 100/500; 1440 x 1000 / 10
    assert shown["break_even_batch"]["text"] == "500"
    assert shown["utilization"]["text"] == "0.2"
    assert shown["min_user_base"]["text"] == "144000"
    _check(shown, ESSAY, "essay")


@needs_chromium
def test_random_configurations_by_url_match_the_closed_forms(browser, site):
    rng = random.Random(20261129)
    checked = 0
    while checked < 24:
        params = _random_params(rng)
        try:
            values = _reference(params)
        except InferonomicsError:  # a card without a rate at that precision: tested on its own below
            continue
        _load(browser, site, params)
        _check(_read(browser), values, str(params))
        checked += 1


@needs_chromium
def test_a_catalog_combination_the_cli_refuses_is_refused(browser, site):
    for hw in catalog.list_hardware():  # the first card the CLI refuses at a weight precision
        params = {"model": "llama3.1-8b", "hardware": hw, "precision": "fp8"}
        try:
            _reference(params)
        except InferonomicsError as exc:
            message = str(exc)
            break
    else:
        pytest.skip("every card binds llama3.1-8b at fp8")
    _load(browser, site, params)
    assert browser.run("return document.getElementById('catalog-error').hidden") is False
    assert browser.run("return document.getElementById('catalog-error').textContent") == message


@needs_chromium
def test_typing_and_choosing_update_the_numbers_and_the_link(browser, site):
    base = {"model": "llama3.1-70b", "hardware": "h100-sxm", "precision": "bf16"}
    _load(browser, site, base)
    rng = random.Random(7)
    typed = dict(base)
    for _ in range(5):
        for flag, text in (("batch", str(rng.randint(1, 2000))), ("context", str(rng.randint(0, 4000))),
                           ("tp", str(rng.choice([1, 2, 4, 8])))):
            browser.type(f"#in-{flag}", text)
            typed[flag] = text
        _check(_read(browser), _reference(typed), f"typed {typed}")
    browser.click('#in-model option[value="qwen3-32b"]')
    browser.click('#in-precision option[value="fp8"]')
    typed.update(model="qwen3-32b", precision="fp8")
    shown = _read(browser)
    _check(shown, _reference(typed), f"chosen {typed}")
    link = browser.run("return location.href")
    assert "model=qwen3-32b" in link and f"batch={typed['batch']}" in link
    browser.get(link)  # the link reproduces the result
    browser.wait("return document.documentElement.dataset.readyMs")
    assert _read(browser) == shown


@needs_chromium
def test_catalog_names_are_spelt_as_the_cli_accepts_them(browser, site):
    canonical = {"model": "llama3.1-70b", "hardware": "h100-sxm", "precision": "fp8", "batch": "64"}
    _load(browser, site, canonical)
    want = _read(browser)
    spelt = {"model": catalog.model("llama3.1-70b").display_name.upper(),
             "hardware": catalog.hardware("h100-sxm").display_name, "precision": "FP8", "batch": "64"}
    _load(browser, site, spelt)
    assert _read(browser) == want
    assert browser.run("return document.getElementById('in-hardware').value") == "h100-sxm"
    _load(browser, site, {"model": "llama-9"})
    assert "llama-9" in browser.run("return document.getElementById('catalog-error').textContent")


@needs_chromium
def test_a_mixture_of_experts_is_flagged(browser, site):
    hidden = {}
    for name in ("deepseek-v3", "llama3.1-70b"):
        _load(browser, site, {"model": name})
        hidden[name] = browser.run("return document.getElementById('catalog-note').hidden")
    assert hidden == {"deepseek-v3": False, "llama3.1-70b": True}


@needs_chromium
def test_the_batch_slider_sets_the_batch(browser, site):
    _load(browser, site, {"model": "llama3.1-8b", "hardware": "b200"})
    browser.run("""const s = document.getElementById('slide-batch');
        s.value = '2.5'; s.dispatchEvent(new Event('input'));""")
    assert browser.run("return document.getElementById('in-batch').value") == "316"  # round(10^2.5)
    _check(_read(browser), _reference({"model": "llama3.1-8b", "hardware": "b200", "batch": "316"}), "slider")


@needs_chromium
def test_the_harness_sees_javascript_errors(chrome, site):
    """The check every browser test ends with is not blind: an uncaught error reaches the console log."""
    _load(chrome, site, {})
    chrome.console()
    chrome.run("setTimeout(() => { throw new Error('planted'); }, 0);")
    time.sleep(0.3)
    assert any(e["level"] == "SEVERE" and "planted" in e["message"] for e in chrome.console())


@needs_chromium
def test_a_failed_condition_greys_its_number_out(browser, site):
    # c* = 2NW/(kF) is about 9766 tokens for the essay's figures: 20000 is beyond it
    _load(browser, site, {"context": "20000"})
    got = _read(browser)["break_even_batch_with_kv"]
    assert (got["valid"], got["holds"]) == ("false", ["false"])
    opacity = browser.run("return getComputedStyle(document.querySelector('#out-break_even_batch_with_kv .value'))"
                          ".opacity")
    assert float(opacity) < 0.6
    assert _read(browser)["break_even_batch"]["valid"] == "true"


@needs_chromium
def test_bad_input_is_named_and_its_outputs_wait(browser, site):
    _load(browser, site, {"batch": "0", "colour": "red"})
    assert browser.run("return document.getElementById('in-batch').getAttribute('aria-invalid')") == "true"
    assert "expected" in browser.run("return document.getElementById('src-batch').textContent")
    assert "colour" in browser.run("return document.getElementById('url-error').textContent")
    got = _read(browser)["utilization"]
    assert (got["valid"], got["text"]) == ("false", "\u2014")


@needs_chromium
def test_charts_are_drawn(browser, site):
    _load(browser, site, {})
    n = browser.run("""const u = document.querySelector('#chart-utilization polyline');
        return [u.getAttribute('points').split(' ').length,
                document.querySelectorAll('#chart-roofline circle').length]""")
    assert n[0] > 200 and n[1] == 6


@needs_chromium
def test_screenshot_is_not_blank(browser, site, tmp_path):
    import matplotlib.image
    import numpy as np

    _load(browser, site, {"model": "llama3.1-8b", "hardware": "h200-sxm", "batch": "32", "context": "2048"})
    png = browser.screenshot()
    (tmp_path / "calculator.png").write_bytes(png)
    img = matplotlib.image.imread(io.BytesIO(png), format="png")[..., :3]
    assert img.shape[0] >= 600 and img.shape[1] >= 800
    rgb = (img * 255).round().astype(np.int64)
    _, counts = np.unique(rgb[..., 0] << 16 | rgb[..., 1] << 8 | rgb[..., 2], return_counts=True)
    colours, flat = counts, rgb.reshape(-1, 3)
    assert len(colours) > 100  # text, MathML, charts
    assert counts.max() / len(flat) < 0.9  # not one flat background
