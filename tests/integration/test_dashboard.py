"""The operators' dashboard (server/tasker_analytics/ui/: routes in dashboard.py, Jinja
templates rendered by views.py) through the TestClient: the page shows the JSON API's own
figures, follows its scope filters, escapes what users send, allows only its own inline
style and script, answers the API's 400s, and with auth on is reachable only with a valid
session cookie (or header) that POST /tasker/analytics/session sets."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from html.parser import HTMLParser

import jwt
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from tasker_analytics.api.access import SESSION_COOKIE
from tasker_analytics.api.app import create_app
from tasker_analytics.auth.settings import AuthSettings
from tasker_analytics.auth.tokens import hash_service_token
from tasker_analytics.config.settings import Settings
from tasker_analytics.ui.dashboard import DEFAULT_SESSION_SECONDS, route_handlers, session_lifetime
from tasker_analytics.ui.views import ENVIRONMENT

DASHBOARD = "/tasker/analytics/dashboard"
SESSION = "/tasker/analytics/session"
PERFORMANCE = "/tasker/analytics/performance"
BOTTLENECKS = "/tasker/analytics/bottlenecks"
SECRET = "a-dashboard-test-secret-that-is-32-bytes-or-more"
PERMISSION = "tasker.analytics:index"
SERVICE_TOKEN = "service-token-of-the-operations-console"
HOSTILE = "<script>alert('x')</script>"


def _readable(milliseconds: float) -> str:
    """How the page writes a duration: in the largest unit under which it is at least 1
    (ms below a second, then s, min, h, days), one decimal (ms: none)."""
    for unit, size in (("days", 86_400_000), ("h", 3_600_000), ("min", 60_000), ("s", 1000)):
        if milliseconds >= size:
            return f"{milliseconds / size:.1f} {unit}"
    return f"{milliseconds:.0f} ms"


def dashboard_app(settings: Settings) -> Litestar:
    """create_app plus the dashboard handlers (skipped once create_app has them)."""
    app = create_app(settings)
    present = {route.path for route in app.routes}
    for handler in route_handlers:
        if not set(handler.paths) & present:
            app.register(handler)
    return app


class Page(HTMLParser):
    """Every element with its attributes, text and the ids of its ancestors."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "line"}

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = {
            "tag": tag,
            "attrs": {name: value or "" for name, value in attrs},
            "text": [],
            "within": {e["attrs"].get("id") for e in self._open} - {None},
        }
        self.elements.append(element)
        if tag not in self.VOID:
            self._open.append(element)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self._open.pop()

    def handle_endtag(self, tag):
        for index in range(len(self._open) - 1, -1, -1):
            if self._open[index]["tag"] == tag:
                del self._open[index:]
                break

    def handle_data(self, data):
        for element in self._open:
            element["text"].append(data)

    def find(self, tag: str | None = None, within: str | None = None, **attrs) -> list[dict]:
        found = []
        for element in self.elements:
            if tag and element["tag"] != tag:
                continue
            if within and within not in element["within"]:
                continue
            if any(element["attrs"].get(name.replace("_", "-")) != value for name, value in attrs.items()):
                continue
            found.append(element)
        return found

    def one(self, **kwargs) -> dict:
        found = self.find(**kwargs)
        assert len(found) == 1, f"{kwargs}: {len(found)} elements"
        return found[0]

    def by_id(self, element_id: str) -> dict:
        return self.one(id=element_id)

    @staticmethod
    def text(element: dict) -> str:
        return "".join(element["text"]).strip()

    def figure(self, name: str) -> dict:
        return self.one(data_figure=name)

    def value(self, name: str) -> str:
        return self.figure(name)["attrs"]["data-value"]

    def bars(self) -> list[int]:
        return [
            int(e["attrs"]["data-count"])
            for e in self.find("rect", within="duration-histogram")
            if "bar" in e["attrs"].get("class", "").split()
        ]

    def rows(self, table_id: str) -> list[dict]:
        return [e for e in self.find("tr", within=table_id) if "data-namespace" in e["attrs"]]


def _number(raw: str) -> float | None:
    return None if raw == "null" else float(raw)


@pytest.fixture(scope="module")
def app_client(workload):
    with TestClient(dashboard_app(workload.settings())) as test_client:
        yield test_client


def test_the_page_shows_the_json_apis_figures(app_client):
    response = app_client.get(DASHBOARD)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "private, max-age=90"
    performance = app_client.get(PERFORMANCE).json()
    bottlenecks = app_client.get(BOTTLENECKS).json()
    page = Page(response.text)

    score = page.by_id("health-score")
    assert page.text(score) == str(performance["system_health_score"])
    assert float(score["attrs"]["data-value"]) == performance["system_health_score"]
    components = [e for e in page.find("tr", within="health-components") if "data-component" in e["attrs"]]
    assert [e["attrs"]["data-component"] for e in components] == [c["name"] for c in performance["health_components"]]
    for component in performance["health_components"]:
        row = page.one(tag="tr", data_component=component["name"])
        assert float(_cell(page, row, "value")) == component["value"]
        assert float(_cell(page, row, "weight")) == component["weight"]
        assert int(_cell(page, row, "count")) == component["count"]

    statistics = performance["task_statistics"]
    for name in ("total_tasks", "completed", "failed", "retried", "settled"):
        assert int(page.value(name)) == statistics[name]
        assert page.text(page.figure(name)) == f"{statistics[name]:,}"
    assert float(page.value("completion_rate")) == statistics["completion_rate"]
    times = performance["processing_times"]
    for name in ("p50", "p95", "p99"):
        assert _number(page.value(name)) == times[name]
        assert page.text(page.figure(name)) == _readable(times[name])
    assert int(page.value("active_tasks")) == performance["active_tasks"]

    for window, trend in performance["performance_trends"].items():
        row = page.one(tag="tr", data_window=window)
        for field in ("completion_rate", "error_rate", "avg_duration_ms", "settled"):
            cell = _cell(page, row, field)
            assert _number(cell) == trend[field], (window, field)
        bar = page.one(tag="rect", data_series="completion_rate", data_window=window)
        assert float(bar["attrs"]["data-value"]) == trend["completion_rate"]

    distribution = bottlenecks["performance_distribution"]
    assert page.bars() == [bucket["count"] for bucket in distribution["histogram"]]
    assert sum(page.bars()) == distribution["count"] == int(page.value("distribution.count"))
    assert _number(page.value("distribution.p95")) == distribution["p95"]

    shown = [
        (r["attrs"]["data-namespace"], r["attrs"]["data-task-name"], r["attrs"]["data-version"])
        for r in page.rows("slowest-tasks")
    ]
    assert shown == [(t["namespace"], t["task_name"], t["version"]) for t in bottlenecks["slowest_tasks"]]
    first = page.rows("slowest-tasks")[0]
    assert int(_cell(page, first, "execution_count")) == bottlenecks["slowest_tasks"][0]["execution_count"]
    assert _number(_cell(page, first, "avg_duration_ms")) == bottlenecks["slowest_tasks"][0]["avg_duration_ms"]
    assert len(page.rows("slowest-steps")) == len(bottlenecks["slowest_steps"])
    errors = [
        e["attrs"]["data-error-type"]
        for e in page.find("tr", within="error-patterns")
        if "data-error-type" in e["attrs"]
    ]
    assert errors == [pattern["error_type"] for pattern in bottlenecks["error_patterns"]]
    for recommendation in bottlenecks["recommendations"]:
        assert recommendation["rationale"] in response.text

    assert page.value("data_as_of") == performance["data_as_of"]
    assert page.value("build_id") == performance["build_id"] == response.headers["x-build-id"]
    # No framework, no CDN: nothing is loaded from elsewhere.
    assert all("src" not in e["attrs"] for e in page.find("script"))
    assert not page.find("link", rel="stylesheet")
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", response.text)


def _cell(page: Page, row: dict, field: str) -> str:
    """data-value of the cell `field` in a table row."""
    index = page.elements.index(row)
    for element in page.elements[index + 1 :]:
        if element["tag"] == "tr":
            break
        if element["attrs"].get("data-field") == field:
            return element["attrs"]["data-value"]
    raise AssertionError(f"no cell {field} in {row['attrs']}")


def test_the_scope_filters_change_the_figures(app_client):
    everything = Page(app_client.get(DASHBOARD, params={"period": 168}).text)
    response = app_client.get(DASHBOARD, params={"namespace": "payments", "period": 168})
    assert response.status_code == 200
    payments = Page(response.text)
    expected = app_client.get(BOTTLENECKS, params={"namespace": "payments", "period": 168}).json()

    count = int(payments.value("distribution.count"))
    assert count == expected["performance_distribution"]["count"] == sum(payments.bars())
    assert 0 < count < int(everything.value("distribution.count"))
    rows = payments.rows("slowest-tasks")
    assert rows and {row["attrs"]["data-namespace"] for row in rows} == {"payments"}
    assert len(rows) == len(expected["slowest_tasks"])
    assert {row["attrs"]["data-namespace"] for row in everything.rows("slowest-tasks")} > {"payments"}
    # The system-wide part does not follow the scope.
    assert payments.value("total_tasks") == everything.value("total_tasks")

    # The form shows the scope, and its options come from the data.
    selected = payments.one(tag="option", within="filter-namespace", selected="")
    assert selected["attrs"]["value"] == "payments"
    catalog = app_client.get(BOTTLENECKS, params={"period": 168, "limit": 50}).json()["slowest_tasks"]
    namespaces = {e["attrs"]["value"] for e in everything.find("option", within="filter-namespace")} - {""}
    assert namespaces == {task["namespace"] for task in catalog} >= {"ecommerce", "payments"}
    assert [e["attrs"]["value"] for e in everything.find("option", within="filter-period")] == [
        "1",
        "4",
        "24",
        "72",
        "168",
    ]
    task_names = {e["attrs"]["value"] for e in payments.find("option", within="filter-task_name")} - {""}
    assert task_names == {task["task_name"] for task in catalog if task["namespace"] == "payments"}
    assert {row["attrs"]["data-task-name"] for row in rows} <= task_names

    # One task type, by the links of the table.
    task = expected["slowest_tasks"][0]
    narrowed = Page(
        app_client.get(
            DASHBOARD,
            params={
                "namespace": task["namespace"],
                "task_name": task["task_name"],
                "version": task["version"],
                "period": 168,
            },
        ).text
    )
    assert [(r["attrs"]["data-task-name"], r["attrs"]["data-version"]) for r in narrowed.rows("slowest-tasks")] == [
        (task["task_name"], task["version"])
    ]


def test_a_plain_get_form_with_empty_selects_is_redirected_without_them(app_client):
    response = app_client.get(DASHBOARD + "?namespace=&task_name=&version=&period=72", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == DASHBOARD + "?period=72"
    assert app_client.get(DASHBOARD + "?namespace=&period=72").status_code == 200
    response = app_client.get(DASHBOARD + "?namespace=", follow_redirects=False)
    assert response.headers["location"] == DASHBOARD


def test_user_values_are_escaped(app_client):
    response = app_client.get(DASHBOARD, params={"namespace": HOSTILE, "task_name": '"><img src=x onerror=alert(1)>'})
    assert response.status_code == 200
    assert HOSTILE not in response.text
    assert "<img src=x" not in response.text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in response.text  # markupsafe's escape
    page = Page(response.text)
    assert page.text(page.by_id("scope-label")).startswith(f"namespace = {HOSTILE}")
    assert page.one(tag="option", within="filter-namespace", selected="")["attrs"]["value"] == HOSTILE
    assert page.rows("slowest-tasks") == []  # it matches nothing
    assert all("src" not in e["attrs"] for e in page.find("script"))
    assert len(page.find("script")) == 1  # only the page's own inline script


def test_the_templates_escape_every_value():
    assert ENVIRONMENT.autoescape is True
    for name in ENVIRONMENT.list_templates():
        source = ENVIRONMENT.loader.get_source(ENVIRONMENT, name)[0]
        assert not re.search(r"\|\s*safe\b|autoescape\s+false|\bMarkup\b", source), name


def test_the_policy_allows_exactly_the_inline_style_and_script(app_client):
    response = app_client.get(DASHBOARD)
    policy = dict(part.strip().split(" ", 1) for part in response.headers["content-security-policy"].split(";"))
    for tag, directive in (("style", "style-src"), ("script", "script-src")):
        (body,) = re.findall(rf"<{tag}>(.*?)</{tag}>", response.text, re.DOTALL)
        assert body.strip()
        assert policy[directive] == f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"
    assert policy["default-src"] == "'none'" and "unsafe" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("period=abc", "period"),
        ("period=0", "period"),
        ("limit=x", "limit"),
        ("colour=red", "colour"),
        ("namespace=" + "n" * 65, "namespace"),
        ("namespace=a%00b", "namespace"),
        ("period=1&period=4", "period"),
    ],
)
def test_bad_filters_answer_the_apis_400(app_client, query, parameter):
    response = app_client.get(f"{DASHBOARD}?{query}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["error"] == "invalid_parameter"
    assert response.json()["parameter"] == parameter


def test_disabled_endpoints_hide_the_dashboard(workload):
    with TestClient(dashboard_app(workload.settings(enabled=False))) as test_client:
        assert test_client.get(DASHBOARD).status_code == 404
        assert test_client.post(SESSION, headers={"Authorization": "Bearer x"}).status_code == 404


def test_without_auth_a_session_is_not_needed(app_client):
    response = app_client.post(SESSION, headers={"Authorization": "Bearer anything"})
    assert response.status_code == 204
    assert "set-cookie" not in response.headers


# --- auth on ------------------------------------------------------------------------------


def _token(permissions=(PERMISSION,), lifetime=600, **claims) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": "operator", "iat": now, "exp": now + lifetime, "permissions": list(permissions), **claims},
        SECRET,
        algorithm="HS256",
    )


@pytest.fixture(scope="module")
def auth_client(workload):
    settings = workload.settings(
        auth=AuthSettings(
            required=True,
            jwt_secret=SECRET,
            service_tokens=(("ops", hash_service_token(SERVICE_TOKEN)),),
        )
    )
    with TestClient(dashboard_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def fresh(auth_client):
    auth_client.cookies.clear()
    yield auth_client
    auth_client.cookies.clear()


def _set_cookie(response) -> dict[str, str]:
    """The session cookie's attributes (lower-cased names; flags map to '')."""
    headers = response.headers.get_list("set-cookie")
    assert len(headers) == 1, headers
    name_value, *attributes = (part.strip() for part in headers[0].split(";"))
    name, _, value = name_value.partition("=")
    assert name == SESSION_COOKIE
    parsed = {"value": value}
    for attribute in attributes:
        key, _, setting = attribute.partition("=")
        parsed[key.lower()] = setting
    return parsed


def _with_cookie(value: str) -> dict[str, str]:
    # Sent by hand: the TestClient's jar keeps Secure cookies away from http://testserver.
    return {"Cookie": f"{SESSION_COOKIE}={value}"}


def test_auth_on_without_credentials_shows_no_dashboard(fresh):
    response = fresh.get(DASHBOARD)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.headers["cache-control"] == "no-store"
    assert 'id="health-score"' not in response.text
    assert "data-figure" not in response.text
    assert 'id="signin"' in response.text
    for bad in (
        "garbage",
        _token(lifetime=-120),
        jwt.encode({"exp": int(time.time()) + 60, "permissions": [PERMISSION]}, "x" * 32),
    ):
        response = fresh.get(DASHBOARD, headers=_with_cookie(bad))
        assert response.status_code == 401, bad
        assert "data-figure" not in response.text
    assert fresh.get(f"{DASHBOARD}?access_token={_token()}").status_code == 401


def test_a_session_cookie_opens_the_dashboard(fresh):
    token = _token()
    response = fresh.post(SESSION, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 204
    assert response.headers["cache-control"] == "no-store"
    cookie = _set_cookie(response)
    assert cookie["value"] == token
    assert {"httponly", "secure"} <= cookie.keys()
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/tasker/analytics"
    assert 590 <= int(cookie["max-age"]) <= 600

    fresh.cookies.clear()
    response = fresh.get(DASHBOARD, headers=_with_cookie(cookie["value"]))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    page = Page(response.text)
    assert page.text(page.by_id("health-score")) == str(
        fresh.get(PERFORMANCE, headers={"Authorization": f"Bearer {token}"}).json()["system_health_score"]
    )
    assert page.find(id="signout")
    # The header works as well, like on the API.
    assert fresh.get(DASHBOARD, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # And bad filters still answer 400 once authenticated (never before).
    assert fresh.get(f"{DASHBOARD}?period=abc", headers=_with_cookie(token)).status_code == 400
    assert fresh.get(f"{DASHBOARD}?period=abc").status_code == 401


def test_a_token_without_the_permission_gets_no_session(fresh):
    token = _token(permissions=["something:else"])
    response = fresh.post(SESSION, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    response = fresh.get(DASHBOARD, headers=_with_cookie(token))
    assert response.status_code == 403
    assert "data-figure" not in response.text


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Basic b3BzOm9wcw==", "Bearer not-a-known-token", f"Bearer {'x' * 40}.{'y' * 40}.{'z' * 40}"],
)
def test_bad_credentials_get_no_session(fresh, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}
    response = fresh.post(SESSION, headers=headers)
    assert response.status_code == 401
    assert "set-cookie" not in response.headers
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_expired_token_and_token_in_the_query_get_no_session(fresh):
    response = fresh.post(SESSION, headers={"Authorization": f"Bearer {_token(lifetime=-120)}"})
    assert response.status_code == 401 and "set-cookie" not in response.headers
    response = fresh.post(f"{SESSION}?access_token={_token()}")
    assert response.status_code == 401 and "set-cookie" not in response.headers


def test_a_service_token_session_lasts_an_hour(fresh):
    response = fresh.post(SESSION, headers={"Authorization": f"Bearer {SERVICE_TOKEN}"})
    assert response.status_code == 204
    cookie = _set_cookie(response)
    assert cookie["value"] == SERVICE_TOKEN
    assert int(cookie["max-age"]) == DEFAULT_SESSION_SECONDS == 3600
    assert fresh.get(DASHBOARD, headers=_with_cookie(SERVICE_TOKEN)).status_code == 200


def test_delete_clears_the_session(fresh):
    response = fresh.delete(SESSION)
    assert response.status_code == 204
    cookie = _set_cookie(response)
    assert cookie["value"] == ""
    assert cookie["max-age"] == "0"
    assert cookie["path"] == "/tasker/analytics"
    assert {"httponly", "secure"} <= cookie.keys()


def test_session_lifetime():
    now = time.time()
    token = jwt.encode({"exp": int(now) + 1234}, SECRET, algorithm="HS256")
    assert session_lifetime(token, "jwt", now=int(now)) == 1234
    assert session_lifetime(token, "jwt", now=int(now) + 2000) == 0
    assert session_lifetime(jwt.encode({"sub": "x"}, SECRET, algorithm="HS256"), "jwt") == DEFAULT_SESSION_SECONDS
    assert session_lifetime("opaque", "service") == DEFAULT_SESSION_SECONDS


BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}


@pytest.mark.parametrize(("query", "parameter"), [("period=abc", "period"), ("colour=red", "colour")])
def test_a_browser_gets_an_html_page_naming_a_bad_filter(app_client, query, parameter):
    response = app_client.get(f"{DASHBOARD}?{query}", headers=BROWSER)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert "content-security-policy" in response.headers
    page = Page(response.text)
    card = page.one(id="error-card")
    assert card["attrs"]["data-status"] == "400" and card["attrs"]["data-parameter"] == parameter
    json_detail = app_client.get(f"{DASHBOARD}?{query}").json()["detail"]
    assert page.text(page.one(id="error-detail")) == json_detail


def test_a_browser_gets_an_html_page_when_no_build_can_be_read(tmp_path):
    missing = tmp_path / "secret-folder" / "absent.duckdb"
    with TestClient(dashboard_app(Settings(duckdb_path=missing))) as test_client:
        response = test_client.get(DASHBOARD, headers=BROWSER)
        assert response.status_code == 503
        assert response.headers["content-type"].startswith("text/html")
        page = Page(response.text)
        assert page.one(id="error-card")["attrs"]["data-status"] == "503"
        assert page.text(page.one(id="error-detail")) == test_client.get(DASHBOARD).json()["detail"]
        assert page.one(tag="meta", http_equiv="refresh")["attrs"]["content"] == "30"
        assert "secret-folder" not in response.text and str(tmp_path) not in response.text


def test_the_page_reloads_as_often_as_the_performance_body_is_cached(workload):
    with TestClient(dashboard_app(workload.settings(performance_cache_ttl=45))) as test_client:
        page = Page(test_client.get(DASHBOARD, headers=BROWSER).text)
        assert page.one(tag="meta", http_equiv="refresh")["attrs"]["content"] == "45"


def test_the_two_p95s_are_labeled(app_client):
    """The exact 24 h p95 of all tasks and the sketch p95 of the scope's period are both on
    the page; the page says which is which."""
    page = Page(app_client.get(DASHBOARD, params={"period": 4}).text)
    assert "exact percentiles" in page.text(page.one(id="processing-times"))
    note = page.text(page.one(id="sketch-note"))
    assert "sketches" in note and "exact" in note and "0.5 %" in note


@pytest.mark.parametrize(
    ("milliseconds", "text"),
    [
        (0.4, "0 ms"),
        (850.0, "850 ms"),
        (12_345.6, "12.3 s"),
        (270_000.0, "4.5 min"),
        (7_560_000.0, "2.1 h"),
        (712_621.0 * 200, "1.6 days"),
    ],
)
def test_durations_are_written_in_the_unit_a_person_reads(milliseconds, text):
    from tasker_analytics.ui.format import ms

    assert ms(milliseconds) == text == _readable(milliseconds)
