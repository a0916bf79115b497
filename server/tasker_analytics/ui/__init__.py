"""The operators' dashboard (HTML): routes and session in dashboard.py, Jinja templates
(templates/) rendered by views.py with the inlined stylesheet and script of static/,
figures written by format.py, chart geometry computed by charts.py."""
