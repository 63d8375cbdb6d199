"""A finance user opens the KPI dashboard in a real browser, changes the period and the store,
sees the charts redraw, downloads a CSV, and the page logs no console error."""

import pytest
from django.contrib.auth.models import Group

from loyalty.core.roles import roles_setup

# PostgreSQL pass only: on SQLite the live server's dashboard query hung (minutes, in SQLite's C
# code) in two whole-suite runs, intermittently, not when run alone; not yet explained.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]


def _chart_total(page, canvas_id):
    return page.evaluate(
        """(id) => {
            const chart = window.Chart.getChart(document.getElementById(id));
            return chart.data.datasets[0].data.reduce((a, b) => a + Number(b), 0);
        }""",
        canvas_id,
    )


def test_dashboard_filters_redraw_and_csv(live_server, page, history, django_user_model, tmp_path):
    roles_setup()
    user = django_user_model.objects.create_user(
        username="finance", password="finance-pass-123", is_staff=True
    )
    user.groups.add(Group.objects.get(name="Finance"))
    errors = []
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} {msg.location.get('url')}") if msg.type == "error" else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)

    page.goto(f"{live_server.url}/admin/login/?next=/admin/analytics/dashboard/")
    page.fill("input[name=username]", "finance")
    page.fill("input[name=password]", "finance-pass-123")
    page.click("button[type=submit]")
    page.wait_for_url("**/admin/analytics/dashboard/")
    page.wait_for_selector("#kpi-dashboard[data-state=ready]")
    assert page.locator(".kpi-card").count() == 8

    # June 2026, all stores: 180 points issued (A 150, B 30)
    page.fill("input[name=date_from]", "2026-06-01")
    page.fill("input[name=date_to]", "2026-06-30")
    page.click("#dashboard-filters button[type=submit]")
    page.wait_for_function(
        "document.querySelector('#kpi-dashboard').dataset.filters?.includes('2026-06-30')"
        " && document.querySelector('#kpi-dashboard').dataset.state === 'ready'"
    )
    assert _chart_total(page, "chart-earn-burn") == 180
    assert _chart_total(page, "chart-tiers") == 4
    card = page.locator(".kpi-card[data-key=points_issued] .kpi-value")
    assert card.inner_text().replace(",", "") == "180"

    # store S2 (home store of C and D): no points issued in June, two members
    renders = int(page.locator("#kpi-dashboard").get_attribute("data-renders"))
    page.select_option("select[name=store]", "S2")
    page.wait_for_function(
        f"Number(document.querySelector('#kpi-dashboard').dataset.renders) > {renders}"
        " && document.querySelector('#kpi-dashboard').dataset.filters.includes('store=S2')"
        " && document.querySelector('#kpi-dashboard').dataset.state === 'ready'"
    )
    assert _chart_total(page, "chart-earn-burn") == 0
    assert _chart_total(page, "chart-tiers") == 2
    assert page.locator("#cohort-heatmap").inner_text()

    with page.expect_download() as info:
        page.click("#csv-links a[data-table=liability]")
    download = info.value
    assert download.suggested_filename == "liability_2026-06-01_2026-06-30.csv"
    path = tmp_path / "liability.csv"
    download.save_as(path)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("month,opening,issued")
    assert lines[1].startswith("2026-06,60,0,")  # S2: D's 60 points, nothing new

    assert [url for url in failed if not url.endswith("/favicon.ico")] == []
    # the browser asks for /favicon.ico by itself and the admin has none: not the page's error
    assert [e for e in errors if not e.endswith("/favicon.ico")] == []
