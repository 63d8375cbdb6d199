import pytest

from loyalty.core.csvsafe import neutralise


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ('+HYPERLINK("x")', '\'+HYPERLINK("x")'),
        ("-2+3+cmd|' /C calc'!A0", "'-2+3+cmd|' /C calc'!A0"),
        ("+44 7911 123456", "+44 7911 123456"),
        ("-12.50", "-12.50"),
        ("Smith", "Smith"),
        ("", ""),
        (42, 42),
    ],
)
def test_neutralise(value, expected):
    assert neutralise(value) == expected
