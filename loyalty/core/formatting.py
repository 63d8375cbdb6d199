"""The one way staff read money, points, days and times: in their language, the programme's
currency and the programme's time zone.

    format_money(Decimal("1234.5"), "CNY")  -> "¥1,234.50"  (any language)
    format_money(Decimal("-3"), "GBP")      -> "-£3.00"
    format_points(1250)                     -> "1,250 points" / "1,250 积分"
    format_day(date(2027, 3, 31))           -> "31 Mar 2027" / "2027年3月31日"
    format_moment(datetime, "Asia/Shanghai")-> "3 Dec 2026 14:30" / "2026年12月3日 14:30"

The admin, the clerk screen and e-mails use these (templates through the `money`, `points`,
`day` and `moment` filters of loyalty.core.templatetags.loyalty_format). CSV exports and the
API do not: they keep ISO dates and plain decimals, which programs read.
"""

from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import formats, numberformat, timezone, translation
from django.utils.translation import ngettext

# Symbols written before the amount. A currency not listed is written after it, by its code.
SYMBOLS = {
    "GBP": "£",
    "EUR": "€",
    "USD": "$",
    "CNY": "¥",
    "JPY": "¥",
    "HKD": "HK$",
    "TWD": "NT$",
    "SGD": "S$",
    "AUD": "A$",
    "CAD": "C$",
}
# Money grouping per language where the language's number format is not what a shop writes:
# Django's zh-hans format groups by four with no separator (12345678), while Chinese tills and
# receipts write ¥1,234.50.
MONEY_GROUPING = {"zh-hans": (".", ",", 3)}
# A day and a time, per language (Django's DATETIME_FORMAT for en-gb is "25 Oct 2006, 2:30 p.m.").
MOMENT_FORMAT = {"en-gb": "j M Y H:i", "zh-hans": "Y年n月j日 H:i"}
# A day of this year, without the year ("3 Dec" / "12月3日"; "j M" in Chinese is "3 12月").
DAY_MONTH_FORMAT = {"en-gb": "j M", "zh-hans": "n月j日"}


def _separators() -> tuple[str, str, int]:
    language = translation.get_language() or "en-gb"
    if language in MONEY_GROUPING:
        return MONEY_GROUPING[language]
    return (
        str(formats.get_format("DECIMAL_SEPARATOR", language)),
        str(formats.get_format("THOUSAND_SEPARATOR", language)) or ",",
        int(formats.get_format("NUMBER_GROUPING", language)) or 3,  # type: ignore[call-overload]
    )


def format_number(value: Any, decimals: int = 0) -> str:
    """A number with the staff language's separators and grouping: 1,234 / 1,234.50."""
    decimal_sep, thousand_sep, grouping = _separators()
    return numberformat.format(
        Decimal(value),
        decimal_sep,
        decimal_pos=decimals,
        grouping=grouping,
        thousand_sep=thousand_sep,
        force_grouping=True,
    )


def format_money(amount: Any, currency: str = "GBP") -> str:
    value = Decimal(amount).quantize(Decimal("0.01"))
    text = format_number(abs(value), 2)
    sign = "-" if value < 0 else ""
    symbol = SYMBOLS.get(currency)
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def format_points(points: Any) -> str:
    count = int(points)
    return ngettext("%(count)s point", "%(count)s points", abs(count)) % {
        "count": format_number(count)
    }


def format_day(day: date | datetime, zone: str | tzinfo | None = None) -> str:
    """A calendar day in the staff language; an aware datetime is first put in `zone` (the
    programme's time zone; default the active one)."""
    if isinstance(day, datetime):
        day = _local(day, zone).date()
    return formats.date_format(day, "DATE_FORMAT")


def format_day_month(day: date | datetime, zone: str | tzinfo | None = None) -> str:
    """A day without its year, for days of this year: "3 Dec" / "12月3日"."""
    if isinstance(day, datetime):
        day = _local(day, zone).date()
    language = translation.get_language() or "en-gb"
    return formats.date_format(day, DAY_MONTH_FORMAT.get(language, "MONTH_DAY_FORMAT"))


def format_moment(moment: datetime, zone: str | tzinfo | None = None) -> str:
    """A date and time in the staff language, in `zone` (the programme's time zone)."""
    language = translation.get_language() or "en-gb"
    pattern = MOMENT_FORMAT.get(language, "DATETIME_FORMAT")
    return formats.date_format(_local(moment, zone), pattern)


def _local(moment: datetime, zone: str | tzinfo | None) -> datetime:
    if timezone.is_naive(moment):
        return moment
    if isinstance(zone, str):
        zone = ZoneInfo(zone)
    return timezone.localtime(moment, zone)
