"""British English formats where the back office differs from Django's: times on the 24-hour
clock, as tills, receipts and loyalty.core.formatting.format_moment write them
("2 Jan 2026 04:00", not "2 Jan 2026, 4 a.m."). Everything else comes from Django's en_GB."""

DATETIME_FORMAT = "j M Y H:i"  # 2 Jan 2026 04:00
SHORT_DATETIME_FORMAT = "d/m/Y H:i"  # 02/01/2026 04:00
TIME_FORMAT = "H:i"  # 04:00
