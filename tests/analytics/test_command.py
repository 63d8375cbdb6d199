import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from analytics.selectors import KPIS


def run(*args: str) -> str:
    out = StringIO()
    call_command("kpis", *args, stdout=out)
    return out.getvalue()


def test_json_has_every_kpi_named(history):
    data = json.loads(run("--from", "2026-06-01", "--to", "2026-06-30", "--json"))
    assert set(KPIS) <= set(data)
    assert data["repeat_purchase_rate"] == {"buyers": 2, "repeat_buyers": 1, "rate": "0.5000"}
    assert data["average_order_value"]["members"]["aov"] == "60.00"
    assert data["filters"] == {
        "from": "2026-06-01",
        "to": "2026-06-30",
        "store": None,
        "tier": None,
    }


def test_filters_reach_the_selectors(history):
    data = json.loads(
        run(
            "--from",
            "2026-06-01",
            "--to",
            "2026-06-30",
            "--store",
            "S1",
            "--tier",
            "gold",
            "--json",
        )
    )
    assert data["repeat_purchase_rate"]["buyers"] == 1
    assert data["filters"]["store"] == "S1"


def test_text_output_lists_every_kpi(history):
    text = run("--from", "2026-06-01", "--to", "2026-06-30")
    for name in KPIS:
        assert f"\n{name}:" in text
    assert "rate: 0.6667" in text  # enrolment rate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "2026-13-01", "--to", "2026-06-30"), "Not a date"),
        (("--from", "2026-06-30", "--to", "2026-06-01"), "to:"),
        (("--from", "2026-06-01", "--to", "2026-06-30", "--store", "ZZ"), "store:"),
    ],
)
def test_bad_arguments_fail_with_a_message(programme, args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
