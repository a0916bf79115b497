"""What the dashboard's templates are given, and how they are rendered.

- The Jinja environment, built once at import: templates from the package's
  `ui/templates/`, autoescaping on for every value (text and attributes), undefined
  names an error, None written as nothing, and ui/format.py's functions as filters.
- The page's stylesheet and script: the package's `ui/static/dashboard.css` and
  `dashboard.js`, read once at import and inlined in every page, and the
  Content-Security-Policy that allows exactly them by their sha256 (nothing else may
  run or style the page, nothing is loaded from anywhere).
- The view of the bodies the templates need beyond their fields: the filter form's
  options, the chart geometry (ui/charts.py), the trend windows in order.
- `render_dashboard` and `render_sign_in`: the two pages, as strings.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from tasker_analytics.api.access import BASE_PATH
from tasker_analytics.auth.tokens import AuthError
from tasker_analytics.config.settings import Settings
from tasker_analytics.core.query import Scope
from tasker_analytics.core.schemas import Bottlenecks, History, Performance, StepDag
from tasker_analytics.ui.charts import histogram, history_chart, sorted_windows, trend_chart
from tasker_analytics.ui.dag import dag_chart
from tasker_analytics.ui.format import age, api_value, ms, pct, thousands

DASHBOARD_PATH = f"{BASE_PATH}/dashboard"
SESSION_PATH = f"{BASE_PATH}/session"
TITLE = "Tasker Analytics"
PERIOD_CHOICES = (1, 4, 24, 72, 168)

# --- the page's own stylesheet and script ---------------------------------------------------


def _static(name: str) -> Markup:
    """A file of ui/static, trusted as it is: it goes into the page unescaped."""
    text = (resources.files("tasker_analytics.ui") / "static" / name).read_text(encoding="utf-8")
    if re.search(r"</(style|script)|<!--", text, re.IGNORECASE):
        raise RuntimeError(f"ui/static/{name} would end its inline element early")
    return Markup(text)


def _sha256(source: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode() + "'"


STYLE = _static("dashboard.css")
SCRIPT = _static("dashboard.js")
CONTENT_SECURITY_POLICY = (
    f"default-src 'none'; style-src {_sha256(STYLE)}; script-src {_sha256(SCRIPT)}; connect-src 'self'; "
    "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

# --- the environment --------------------------------------------------------------------------


def _blank_none(value: Any) -> Any:
    """`{{ None }}` writes nothing (Jinja would write "None")."""
    return "" if value is None else value


def task_url(namespace: str, task_name: str, version: str, period: int) -> str:
    """The dashboard scoped to one task type."""
    scope = {"namespace": namespace, "task_name": task_name, "version": version}
    return f"{DASHBOARD_PATH}?{urlencode({**scope, 'period': period})}"


ENVIRONMENT = Environment(
    loader=PackageLoader("tasker_analytics.ui", "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    finalize=_blank_none,
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)
ENVIRONMENT.filters.update(
    api_value=api_value,
    thousands=thousands,
    ms=ms,
    pct=pct,
    age=age,
)
ENVIRONMENT.globals.update(
    title=TITLE,
    style=STYLE,
    script=SCRIPT,
    dashboard_path=DASHBOARD_PATH,
    session_path=SESSION_PATH,
    task_url=task_url,
)
_DASHBOARD = ENVIRONMENT.get_template("dashboard.html")
_SIGN_IN = ENVIRONMENT.get_template("sign_in.html")
_ERROR = ENVIRONMENT.get_template("error.html")
# How often the page for a missing or unreadable build reloads itself.
ERROR_REFRESH_SECONDS = 30

# --- views ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilterOptions:
    """The filter form's choices as (value, text) pairs, the data's own values: task types of
    the catalog (the slowest-task list over every scope), narrowed by the chosen namespace
    and task. A chosen value the data lacks comes first, so the form still shows it."""

    namespaces: list[tuple[str, str]]
    task_names: list[tuple[str, str]]
    versions: list[tuple[str, str]]
    periods: list[tuple[str, str]]


def _keeping(selected: str | None, options: list[tuple[str, str]]) -> list[tuple[str, str]]:
    if selected is not None and selected not in {value for value, _ in options}:
        return [(selected, selected), *options]  # a value from the URL that the data lacks: keep it visible
    return options


def filter_options(catalog: Bottlenecks, scope: Scope, period: int, settings: Settings) -> FilterOptions:
    tasks = catalog.slowest_tasks
    namespaces = sorted({task.namespace for task in tasks})
    in_namespace = [task for task in tasks if scope.namespace in (None, task.namespace)]
    task_names = sorted({task.task_name for task in in_namespace})
    versions = sorted({task.version for task in in_namespace if scope.task_name in (None, task.task_name)})
    periods = [hours for hours in PERIOD_CHOICES if hours <= settings.longest_period]
    if period not in periods:
        periods = sorted({*periods, period})
    return FilterOptions(
        namespaces=_keeping(scope.namespace, [(name, name) for name in namespaces]),
        task_names=_keeping(scope.task_name, [(name, name) for name in task_names]),
        versions=_keeping(scope.version, [(version, version) for version in versions]),
        periods=[(str(hours), f"{hours} h" if hours < 24 else f"{hours} h ({hours // 24} d)") for hours in periods],
    )


def render_dashboard(
    performance: Performance,
    bottlenecks: Bottlenecks,
    history: History,
    dag: StepDag,
    catalog: Bottlenecks,
    scope: Scope,
    period: int,
    limit: int,
    settings: Settings,
    limit_given: bool = False,
) -> str:
    """The whole page; every figure comes from the given bodies as the JSON API serves them.
    `catalog` fills the filter form; `limit` is kept in the form when the URL gave it."""
    windows = sorted_windows(performance.performance_trends)
    return _DASHBOARD.render(
        performance=performance,
        bottlenecks=bottlenecks,
        windows=windows,
        trend_chart=trend_chart(windows),
        histogram=histogram(bottlenecks.performance_distribution),
        history=history,
        history_chart=history_chart(history),
        dag=dag,
        dag_chart=dag_chart(dag),
        filters=filter_options(catalog, scope, period, settings),
        scope=scope,
        period=period,
        limit=limit if limit_given else None,
        sign_out=settings.auth.required,
        # The page reloads itself when its figures may have changed: as often as the
        # performance body is cached (a meta refresh: no script, within the CSP).
        refresh_seconds=max(settings.performance_cache_ttl, 10),
    )


def render_error(status: int, heading: str, detail: str, parameter: str | None = None) -> str:
    """The page in place of the dashboard for a bad filter (400, `parameter` named) or a
    build that cannot be read (503, reloading itself)."""
    return _ERROR.render(
        status=status,
        heading=heading,
        detail=detail,
        parameter=parameter,
        refresh_seconds=None if parameter else ERROR_REFRESH_SECONDS,
    )


def render_sign_in(error: AuthError, permission: str) -> str:
    """The page in place of the dashboard for a 401 or 403."""
    return _SIGN_IN.render(forbidden=error.status == 403, permission=permission, detail=error.detail)
