"""Money and points the way a till shows them: '£12.50', '1,250 points' (loyalty.core.formatting,
in the staff member's language)."""

from loyalty.core.formatting import format_money, format_points

__all__ = ["format_money", "format_points"]
