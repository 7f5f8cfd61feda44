"""The dashboard in a real browser: pages load cleanly and offline, plots and tables show the data."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest

from tests.ui.browser import open_page
from tests.ui.seed import create_multiobjective_study, create_study

N_TRIALS = 30
PLOT_TIMEOUT_MS = 120_000  # the first predict fits the GP; a busy 2-core machine is slow


@pytest.fixture(scope="module")
def study(api) -> dict:
    """A study with 30 completed trials."""
    return create_study(api, "ui-branin", N_TRIALS, categorical=False)


@pytest.fixture(scope="module")
def finished_plot_job(api) -> dict:
    """A succeeded job with a PNG and a JSON artifact."""
    job = api.post("/v1/jobs", json={"kind": "test_sleep", "dataset": "sklearn:diabetes", "task": "regression",
                                     "config": {"steps": 3, "step_seconds": 0.01, "plot": True}}).json()
    deadline = time.monotonic() + 60
    while (job := api.get(f"/v1/jobs/{job['id']}").json())["state"] not in ("succeeded", "failed", "cancelled"):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["state"] == "succeeded", job
    return job


def test_root_redirects_to_the_dashboard(api):
    response = api.get("/", follow_redirects=False)
    assert response.status_code in (302, 307) and response.headers["location"] == "/ui"


def test_every_page_loads_cleanly_without_other_hosts(browser, server, study, finished_plot_job):
    for path, ready in [
        ("/ui", "#studies tbody tr"),
        (f"/ui/studies/{study['id']}", "#slice-0 .js-fill"),
        ("/ui/jobs", "#jobs tbody tr"),
        (f"/ui/jobs/{finished_plot_job['id']}", "#plots img"),
        ("/docs", ".opblock"),
        ("/redoc", "[data-section-id]"),
    ]:
        page, watch = open_page(browser, server, path)
        page.wait_for_selector(ready, timeout=PLOT_TIMEOUT_MS)
        page.wait_for_load_state("networkidle")
        watch.assert_clean()
        page.context.close()


def test_docs_render_with_the_network_blocked(browser, server):
    page, watch = open_page(browser, server, "/docs")
    page.wait_for_selector(".opblock", timeout=30_000)
    operations = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/v1/studies/{study_id}/predict" in text for text in operations)
    watch.assert_clean()
    page.context.close()


def test_study_page_shows_history_slices_and_a_csv_of_every_trial(browser, server, study):
    page, watch = open_page(browser, server, f"/ui/studies/{study['id']}")
    page.wait_for_selector("#slice-0 .js-fill", timeout=PLOT_TIMEOUT_MS)
    # history: one point per completed trial, and the best-so-far line never gets worse
    history = page.evaluate("() => document.getElementById('history').data.map((t) => ({x: t.x, y: t.y, name: t.name}))")
    points, best = history
    assert len(points["x"]) == N_TRIALS and page.locator("#history .scatterlayer .trace").first.locator(
        "path.point").count() == N_TRIALS
    assert all(b <= a for a, b in zip(best["y"], best["y"][1:]))
    assert best["y"][-1] == min(points["y"])
    # slice of x: a band (filled to the lower edge) that contains the mean everywhere
    traces = page.evaluate("() => document.getElementById('slice-0').data.map((t) => ({name: t.name, y: t.y, fill: t.fill}))")
    lower, upper, mean = (next(t for t in traces if t["name"] == name) for name in ("band lower", "95% band", "surrogate mean"))
    assert upper["fill"] == "tonexty" and len(mean["y"]) == 60
    assert all(lo < m < up for lo, m, up in zip(lower["y"], mean["y"], upper["y"]))
    # trials table and its CSV
    assert page.locator("#trials tbody tr").count() == N_TRIALS
    with page.expect_download() as download_info:
        page.click("#download-csv")
    rows = list(csv.DictReader(io.StringIO(Path(download_info.value.path()).read_text())))
    assert len(rows) == N_TRIALS
    assert sorted(int(row["number"]) for row in rows) == list(range(N_TRIALS))
    # importances are drawn from the surrogate, one pair of bars per parameter
    page.wait_for_function("() => (document.getElementById('importances').data || []).length === 2",
                           timeout=PLOT_TIMEOUT_MS)
    watch.assert_clean()
    page.context.close()


def test_trials_table_sorts_and_filters(browser, server, study):
    page, watch = open_page(browser, server, f"/ui/studies/{study['id']}")
    page.wait_for_selector("#trials tbody tr")
    page.click("#trials th:has-text('loss')")
    column = [float(v) for v in page.locator("#trials tbody tr td:nth-child(3)").all_inner_texts()]
    assert column == sorted(column) and len(column) == N_TRIALS
    page.fill("#trial-filter", "no-such-text")
    assert page.locator("#trials tbody tr").count() == 0
    page.context.close()
    watch.assert_clean()


SOBOL_IN_PAGE = """async (expression) => {
    const sobol = await import('/ui/static/js/sobol.js');
    const space = await import('/ui/static/js/space.js');
    const design = sobol.saltelliDesign(2, 20000, space.seededRandom(1));
    const f = new Function('u', `return ${expression};`);
    return sobol.sobolIndices(design, design.rows.map(f));
}"""


@pytest.mark.parametrize(("expression", "first", "total", "variance"), [
    # additive: Var = 1/12 + 4/12, no interaction, so total = first = (1/5, 4/5)
    ("100 + u[0] + 2 * u[1]", [0.2, 0.8], [0.2, 0.8], 5 / 12),
    # product: Var = 1/9 - 1/16 = 7/144, Var E[f|u_i] = 1/48 = 3/144, so first = 3/7 and total = 1 - 3/7
    ("u[0] * u[1]", [3 / 7, 3 / 7], [4 / 7, 4 / 7], 7 / 144),
])
def test_importance_estimator_matches_closed_form_sobol_indices(browser, server, expression, first, total, variance):
    page, watch = open_page(browser, server, "/ui/jobs")
    result = page.evaluate(SOBOL_IN_PAGE, expression)
    assert result["first"] == pytest.approx(first, abs=0.02)
    assert result["total"] == pytest.approx(total, abs=0.02)
    assert result["variance"] == pytest.approx(variance, rel=0.03)
    page.context.close()
    watch.assert_clean()


def test_running_job_progress_updates_without_reload(browser, server, api):
    job = api.post("/v1/jobs", json={"kind": "test_sleep", "dataset": "sklearn:diabetes", "task": "regression",
                                     "config": {"steps": 40, "step_seconds": 0.25}}).json()
    page, watch = open_page(browser, server, "/ui/jobs")
    cell = f"#jobs [data-job='{job['id']}']"
    page.wait_for_selector(cell)
    page.evaluate("() => { window.notReloaded = true; }")
    first = page.locator(cell).inner_text()
    page.wait_for_function(f"""() => {{
        const cell = document.querySelector("{cell}");
        return cell && cell.textContent.trim() !== {first.strip()!r};
    }}""", timeout=30_000)
    assert page.evaluate("() => window.notReloaded === true")
    page.context.close()
    watch.assert_clean()


def test_job_page_shows_image_artifacts_inline(browser, server, finished_plot_job):
    page, watch = open_page(browser, server, f"/ui/jobs/{finished_plot_job['id']}")
    image = page.wait_for_selector("#plots img[alt='steps.png']")
    page.wait_for_function("(img) => img.complete && img.naturalWidth > 0", arg=image)
    assert page.locator("#artifacts li").count() == 2  # steps.png and out.json, both downloadable
    assert "steps" in page.locator("#result").inner_text()
    page.context.close()
    watch.assert_clean()


def test_study_page_follows_new_observations_without_reload(browser, server, api):
    """One trial: no surrogate plot (predict needs two) and no failed request; then new data arrive."""
    young = create_study(api, "ui-young", 1, seed=7, categorical=False)
    page, watch = open_page(browser, server, f"/ui/studies/{young['id']}")
    page.wait_for_function("() => document.getElementById('slices-note').textContent.includes('needs 2')")
    assert page.locator("#history .scatterlayer path.point").count() == 1
    page.evaluate("() => { window.notReloaded = true; }")
    for x in (1.0, 7.0):
        api.post(f"/v1/studies/{young['id']}/observe",
                 json={"params": {"x": x, "y": 3.0, "lr": 0.01}, "values": {"loss": x * x}}).raise_for_status()
    page.wait_for_function("() => document.getElementById('history').data[0].x.length === 3", timeout=30_000)
    page.wait_for_selector("#slice-0 .js-fill", timeout=PLOT_TIMEOUT_MS)
    assert page.evaluate("() => window.notReloaded === true")
    assert page.locator("#trials tbody tr").count() == 3
    page.context.close()
    watch.assert_clean()


N_MULTI = 20
FRONT_POINTS = """() => {
    const data = document.getElementById('pareto-plot').data || [];
    const index = data.findIndex((t) => t.name === 'Pareto front');
    return index < 0 ? null : {index, x: data[index].x, y: data[index].y, mode: data[index].mode,
                               infeasible: data.find((t) => t.name === 'infeasible').x.length};
}"""


@pytest.fixture(scope="module")
def multi_study(api) -> dict:
    """Two objectives (error, cost) under a latency constraint, 20 outside observations."""
    return create_multiobjective_study(api, "ui-error-vs-cost", N_MULTI, seed=11)


def test_multiobjective_study_shows_its_front(browser, server, api, multi_study):
    study_id = multi_study["id"]
    pareto = api.get(f"/v1/studies/{study_id}/pareto").json()
    trials = api.get(f"/v1/studies/{study_id}/trials", params={"limit": 100}).json()["items"]
    infeasible = [t for t in trials if t["feasible"] is False]
    assert 0 < len(pareto["trials"]) < N_MULTI and infeasible  # the seed makes both cases appear
    page, watch = open_page(browser, server, f"/ui/studies/{study_id}")
    page.wait_for_function(f"() => ({FRONT_POINTS})() !== null", timeout=30_000)
    front = page.evaluate(FRONT_POINTS)
    # the highlighted points are exactly /pareto's trials, connected (two objectives), and drawn
    assert sorted(zip(front["x"], front["y"])) == sorted((t["values"]["error"], t["values"]["cost"]) for t in pareto["trials"])
    assert front["mode"] == "lines+markers" and front["infeasible"] == len(infeasible)
    drawn = page.locator("#pareto-plot .scatterlayer .trace").nth(front["index"]).locator("path.point").count()
    assert drawn == len(pareto["trials"])
    assert page.locator("#pareto-controls").is_hidden()  # no pair to choose with two objectives
    note = page.locator("#pareto-note").inner_text()
    assert f"{len(pareto['trials'])} of {N_MULTI}" in note and "inferred from the front" in note
    # history of one objective without a best-so-far line; a table column per objective and metric
    assert [t["name"] for t in page.evaluate("() => document.getElementById('history').data")] == [
        "error (feasible)", "infeasible"]
    headers = page.locator("#trials th").all_inner_texts()
    assert [h.strip() for h in headers[2:6]] == ["error", "cost", "latency", "feasible"]
    assert page.locator("#trials tbody tr.infeasible").count() == len(infeasible)
    # the surrogate plots (of the first objective) still draw
    page.wait_for_selector("#slice-0 .js-fill", timeout=PLOT_TIMEOUT_MS)
    assert "first objective, error" in page.locator("#slices-note").inner_text()
    page.wait_for_load_state("networkidle")
    watch.assert_clean()
    page.context.close()
    # the studies list shows the front instead of calling /best (a 409 for this study)
    page, watch = open_page(browser, server, "/ui")
    row = page.locator("#studies tbody tr", has_text="ui-error-vs-cost")
    page.wait_for_function("() => document.querySelector('#studies').textContent.includes('front of')")
    assert f"front of {len(pareto['trials'])}" in row.inner_text()
    page.wait_for_load_state("networkidle")
    watch.assert_clean()
    page.context.close()


def test_pareto_card_switches_objective_pair_and_stays_hidden_for_one_objective(browser, server, api, study):
    three = create_multiobjective_study(api, "ui-three", 8, seed=2, objectives=("error", "cost", "latency"))
    page, watch = open_page(browser, server, f"/ui/studies/{three['id']}")
    page.wait_for_function(f"() => ({FRONT_POINTS})() !== null", timeout=30_000)
    assert page.locator("#pareto-controls").is_visible()
    page.select_option("#pareto-y", "latency")
    page.wait_for_function("() => document.getElementById('pareto-plot').layout.yaxis.title.text.startsWith('latency')")
    pareto = api.get(f"/v1/studies/{three['id']}/pareto").json()
    assert sorted(page.evaluate(FRONT_POINTS)["y"]) == sorted(t["values"]["latency"] for t in pareto["trials"])
    assert page.evaluate(FRONT_POINTS)["mode"] == "markers"  # a projection of a 3-d front is not a staircase
    page.context.close()
    watch.assert_clean()
    page, watch = open_page(browser, server, f"/ui/studies/{study['id']}")
    page.wait_for_selector("#trials tbody tr")
    assert page.locator("#pareto-card").is_hidden()
    page.context.close()
    watch.assert_clean()


def test_constrained_single_objective_marks_infeasible_trials(browser, server, api):
    constrained = create_multiobjective_study(api, "ui-constrained", 12, seed=5, objectives=("error",))
    trials = api.get(f"/v1/studies/{constrained['id']}/trials").json()["items"]
    infeasible = [t for t in trials if t["feasible"] is False]
    feasible = [t for t in trials if t["feasible"] is True]
    assert infeasible and feasible
    page, watch = open_page(browser, server, f"/ui/studies/{constrained['id']}")
    page.wait_for_selector("#trials tbody tr.infeasible")
    history = {t["name"]: t for t in page.evaluate("() => document.getElementById('history').data")}
    assert len(history["infeasible"]["x"]) == len(infeasible) and len(history["error (feasible)"]["x"]) == len(feasible)
    # best so far counts feasible trials only, as /best does
    assert history["best so far"]["y"][-1] == api.get(f"/v1/studies/{constrained['id']}/best").json()["values"]["error"]
    assert page.locator("#trials tbody tr.infeasible").count() == len(infeasible)
    assert page.locator("#pareto-card").is_hidden()
    page.wait_for_load_state("networkidle")
    page.context.close()
    watch.assert_clean()
