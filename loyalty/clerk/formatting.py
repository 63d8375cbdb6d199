"""Money and points the way a till shows them: '£12.50', '1,250 points'."""

from decimal import Decimal
from typing import Any

SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def format_money(amount: Any, currency: str = "GBP") -> str:
    value = Decimal(amount).quantize(Decimal("0.01"))
    symbol = SYMBOLS.get(currency)
    text = f"{abs(value):,.2f}"
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency}"


def format_points(points: Any) -> str:
    points = int(points)
    return f"{points:,} point{'' if abs(points) == 1 else 's'}"
