"""The dashboard in a real browser: Debian's Chromium driven by Playwright against the app
served by granian over HTTP on 127.0.0.1.

Needs /usr/bin/chromium (`apt-get install -y chromium`) and the playwright package (the
`test` extra; its own browser download is not used). Without them the tests skip, or fail
when CI is set. A screenshot of the page is saved to tests/artifacts/dashboard.png.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest

from helpers.paths import TESTS
from helpers.services import service_missing
from helpers.workloads import Workload
from tasker_analytics.api.access import SESSION_COOKIE
from tasker_analytics.api.app import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = TESTS / "artifacts"
DASHBOARD = "/tasker/analytics/dashboard"
SESSION = "/tasker/analytics/session"
PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"
SECRET = "a-browser-test-secret-that-is-32-bytes-or-more"
PERMISSION = "tasker.analytics:index"
START_SECONDS = 60

pytestmark = pytest.mark.browser

# Until create_app lists the dashboard's handlers, the test serves this module: create_app
# plus dashboard.route_handlers, with granian like `tasker-analytics serve`.
SERVER_MODULE = """
import sys

from tasker_analytics.api.app import create_app
from tasker_analytics.ui.dashboard import route_handlers
from tasker_analytics.config.settings import Settings


def app():
    application = create_app(Settings.from_env())
    present = {route.path for route in application.routes}
    for handler in route_handlers:
        if not set(handler.paths) & present:
            application.register(handler)
    return application


if __name__ == "__main__":
    from granian import Granian
    from granian.constants import Interfaces

    Granian("dashboard_server:app", address="127.0.0.1", port=int(sys.argv[1]), interface=Interfaces.ASGI,
            factory=True, workers=1).serve()
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _dashboard_is_wired(workload: Workload) -> bool:
    return any(route.path == DASHBOARD for route in create_app(workload.settings()).routes)


@contextlib.contextmanager
def _serve(workload: Workload, directory: Path, **env: str) -> Iterator[str]:
    """Serve the app on a free port of 127.0.0.1 in a subprocess; yields its base URL."""
    port = _free_port()
    environment = {name: value for name, value in os.environ.items() if not name.startswith("TASKER_ANALYTICS_")}
    environment.update(TASKER_ANALYTICS_DUCKDB_PATH=str(workload.warehouse_path), TASKER_ANALYTICS_WORKERS="1", **env)
    if _dashboard_is_wired(workload):
        command = [str(Path(sys.executable).with_name("tasker-analytics")), "serve", "--port", str(port)]
    else:
        (directory / "dashboard_server.py").write_text(SERVER_MODULE)
        environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), environment.get("PYTHONPATH")]))
        command = [sys.executable, str(directory / "dashboard_server.py"), str(port)]
    log = (directory / "server.log").open("wb")
    process = subprocess.Popen(
        command, cwd=directory, env=environment, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}: {(directory / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/health/ready", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                log_text = (directory / "server.log").read_text()
                pytest.fail(f"the server did not get ready in {START_SECONDS}s: {log_text}")
            time.sleep(0.2)
        yield base
    finally:
        # The server and its granian workers: the process group this fixture started.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
        log.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        service_missing(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(workload, tmp_path_factory):
    with _serve(workload, tmp_path_factory.mktemp("dashboard_server")) as base:
        yield base


@pytest.fixture(scope="module")
def auth_server(workload, tmp_path_factory):
    with _serve(
        workload,
        tmp_path_factory.mktemp("dashboard_auth_server"),
        TASKER_ANALYTICS_AUTH_REQUIRED="true",
        TASKER_ANALYTICS_JWT_SECRET=SECRET,
    ) as base:
        yield base


@contextlib.contextmanager
def _page(browser, **options):
    """A fresh context and page; fails the test on any console error or page error
    (a CSP violation by the page's own script or style shows up as one)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **options)
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        yield context, page, errors
    finally:
        context.close()


def _token(permissions=(PERMISSION,), lifetime=600) -> str:
    now = int(time.time())
    claims = {"sub": "operator", "iat": now, "exp": now + lifetime, "permissions": list(permissions)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


def _figure(page, name: str) -> str:
    return page.locator(f'[data-figure="{name}"]').get_attribute("data-value")


def _executions(page) -> int:
    cells = page.locator('#slowest-tasks td[data-field="execution_count"]')
    return sum(int(cells.nth(index).get_attribute("data-value")) for index in range(cells.count()))


def test_the_dashboard_renders_real_figures_and_charts(browser, server):
    with _page(browser) as (context, page, errors):
        response = page.goto(server + DASHBOARD)
        assert response.status == 200
        performance = context.request.get(server + PERFORMANCE).json()
        bottlenecks = context.request.get(server + BOTTLENECKS).json()

        assert page.locator("#health-score").inner_text() == str(performance["system_health_score"])
        assert int(_figure(page, "total_tasks")) == performance["task_statistics"]["total_tasks"]
        assert float(_figure(page, "p95")) == performance["processing_times"]["p95"]

        bars = page.locator("svg#duration-histogram rect.bar")
        assert bars.count() == len(bottlenecks["performance_distribution"]["histogram"]) > 0
        counts = []
        for index in range(bars.count()):
            box = bars.nth(index).bounding_box()
            assert box is not None and box["height"] > 0 and box["width"] > 0
            counts.append(int(bars.nth(index).get_attribute("data-count")))
        assert sum(counts) == bottlenecks["performance_distribution"]["count"]
        # The tallest bucket draws the tallest bar.
        heights = [bars.nth(index).bounding_box()["height"] for index in range(bars.count())]
        assert heights.index(max(heights)) == counts.index(max(counts))
        trend_bars = page.locator("svg#trend-chart rect.bar")
        assert trend_bars.count() == 2 * len(performance["performance_trends"])
        assert all(trend_bars.nth(i).bounding_box()["height"] > 0 for i in range(trend_bars.count()))
        assert page.locator("#slowest-tasks tbody tr").count() == len(bottlenecks["slowest_tasks"])

        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000

        # Another namespace through the filter form: the figures follow.
        before = (_figure(page, "distribution.count"), _executions(page))
        page.select_option("#filter-namespace", "payments")
        with page.expect_navigation():
            page.click("#apply-filters")
        assert page.url == f"{server}{DASHBOARD}?namespace=payments&period=24"  # the script left out the empty selects
        payments = context.request.get(server + BOTTLENECKS, params={"namespace": "payments"}).json()
        after = (_figure(page, "distribution.count"), _executions(page))
        assert after != before
        assert int(after[0]) == payments["performance_distribution"]["count"]
        assert after[1] == sum(task["execution_count"] for task in payments["slowest_tasks"])
        rows = page.locator("#slowest-tasks tbody tr[data-namespace]")
        assert rows.count() > 0
        assert {rows.nth(i).get_attribute("data-namespace") for i in range(rows.count())} == {"payments"}
        assert page.locator("#filter-namespace").input_value() == "payments"
        assert page.locator("#scope-label").inner_text() == "namespace = payments"
        assert errors == []


def test_the_history_chart_and_the_step_dag_are_drawn(browser, server):
    """At 1400 px: the hour-by-hour chart draws a visible bar for every hour with settled
    tasks and the completion-rate and p95 lines; with a task chosen, the step DAG draws
    every step (the critical ones marked) and every dependency. Screenshots of both go to
    tests/artifacts/ (docs/images/ holds copies)."""
    with _page(browser) as (context, page, errors):
        assert page.goto(f"{server}{DASHBOARD}?namespace=ecommerce&task_name=process_order&period=24").status == 200
        bars = page.locator("svg#history-chart rect.series-settled")
        assert bars.count() > 20
        settled = [int(bars.nth(index).get_attribute("data-settled")) for index in range(bars.count())]
        assert all(count > 0 for count in settled)
        for index in range(bars.count()):
            box = bars.nth(index).bounding_box()
            assert box is not None and box["height"] > 0 and box["width"] > 0
        assert page.locator("svg#history-chart polyline.series-rate").count() >= 1
        assert page.locator("svg#history-chart polyline.series-duration").count() >= 1

        steps = page.locator("svg#step-dag g.dag-step")
        assert steps.count() >= 5
        critical = page.locator("svg#step-dag g.dag-step.critical")
        assert 0 < critical.count() < steps.count()
        for index in range(steps.count()):
            box = steps.nth(index).bounding_box()
            assert box is not None and box["width"] > 60
        assert page.locator("svg#step-dag path.dag-edge").count() >= steps.count() - 1
        assert page.locator("svg#step-dag path.dag-edge.critical").count() >= 1

        ARTIFACTS.mkdir(exist_ok=True)
        page.locator("#history").screenshot(path=str(ARTIFACTS / "dashboard-history.png"))
        page.locator("#dag").screenshot(path=str(ARTIFACTS / "dashboard-dag.png"))
        for name in ("dashboard-history.png", "dashboard-dag.png"):
            assert (ARTIFACTS / name).stat().st_size > 10_000
        assert errors == []


def test_the_filter_form_works_without_javascript(browser, server):
    with _page(browser, java_script_enabled=False) as (context, page, _):
        assert page.goto(server + DASHBOARD).status == 200
        page.select_option("#filter-namespace", "payments")
        page.select_option("#filter-period", "168")
        with page.expect_navigation():
            page.click("#apply-filters")
        # The plain GET form sent the empty selects too; the server redirected them away.
        assert page.url == f"{server}{DASHBOARD}?namespace=payments&period=168"
        payments = context.request.get(server + BOTTLENECKS, params={"namespace": "payments", "period": 168}).json()
        assert int(_figure(page, "distribution.count")) == payments["performance_distribution"]["count"]


def test_auth_on_the_dashboard_needs_a_session(browser, auth_server):
    with _page(browser) as (context, page, errors):
        response = page.goto(auth_server + DASHBOARD)
        assert response.status == 401
        assert page.locator("#health-score").count() == 0
        assert page.locator("[data-figure]").count() == 0
        errors.clear()  # the 401 itself is logged as a failed resource

        # A token without the permission: 403, no cookie, still no dashboard.
        refused = context.request.post(
            auth_server + SESSION, headers={"Authorization": f"Bearer {_token(permissions=['other'])}"}
        )
        assert refused.status == 403
        assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]

        # POST /session with the header: the browser keeps the Secure cookie on http://127.0.0.1.
        token = _token()
        created = context.request.post(auth_server + SESSION, headers={"Authorization": f"Bearer {token}"})
        assert created.status == 204
        cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
        assert cookie["value"] == token
        assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Strict"
        assert cookie["path"] == "/tasker/analytics"
        assert 0 < cookie["expires"] - time.time() <= 600

        response = page.goto(auth_server + DASHBOARD)
        assert response.status == 200
        performance = context.request.get(
            auth_server + PERFORMANCE, headers={"Authorization": f"Bearer {token}"}
        ).json()
        assert page.locator("#health-score").inner_text() == str(performance["system_health_score"])
        assert page.locator("svg#duration-histogram rect.bar").count() > 0
        assert page.evaluate("document.cookie") == ""  # HttpOnly: the page's script cannot read the token

        # Sign out: the cookie goes, and so does the dashboard.
        page.click("#signout")
        page.wait_for_selector("#signin")
        assert not [c for c in context.cookies() if c["name"] == SESSION_COOKIE]
        assert page.goto(auth_server + DASHBOARD).status == 401

        # Sign in with the page's own form (its script posts the token to /session).
        page.fill("#signin input[name=token]", token)
        page.click("#signin button[type=submit]")
        page.wait_for_selector("#health-score")
        assert page.locator("#health-score").inner_text() == str(performance["system_health_score"])
        assert [message for message in errors if "401" not in message] == []
