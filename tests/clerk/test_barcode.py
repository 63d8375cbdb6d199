"""The Code 128 encoder: the table's own rules, known encodings, and a decoder round trip."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loyalty.clerk.barcode import (
    PATTERNS,
    QUIET_ZONE,
    code128_svg,
    code128_values,
    code128_widths,
)


def test_pattern_table_follows_the_symbology_rules():
    assert len(PATTERNS) == 107
    assert len(set(PATTERNS)) == 107
    for value, pattern in enumerate(PATTERNS[:106]):
        widths = [int(c) for c in pattern]
        assert len(widths) == 6 and sum(widths) == 11, value
        assert sum(widths[0::2]) % 2 == 0, value  # bars: an even number of modules
        assert all(1 <= w <= 4 for w in widths), value
    assert PATTERNS[106] == "2331112"


def test_card_number_uses_code_set_c_with_the_right_check_symbol():
    # start C, 12 34 56 78 90, check (105 + 12*1 + 34*2 + 56*3 + 78*4 + 90*5) % 103 = 85, stop
    assert code128_values("1234567890") == [105, 12, 34, 56, 78, 90, 85, 106]


def test_text_uses_code_set_b():
    # "Ab": start B, A=33, b=66, check (104 + 33 + 132) % 103 = 63, stop
    assert code128_values("Ab") == [104, 33, 66, 63, 106]


def test_odd_digit_run_switches_sets():
    values = code128_values("AB12345")  # B: A B 1, then C: 23 45
    assert values[:5] == [104, 33, 34, 17, 99]
    assert values[5:7] == [23, 45]


@pytest.mark.parametrize("bad", ["", "é", "a\nb"])
def test_unencodable_text_is_refused(bad):
    with pytest.raises(ValueError):
        code128_values(bad)


def _decode(widths: list[int]) -> str:
    """An independent reader: widths -> symbols -> text, checking the check symbol."""
    lookup = {p: v for v, p in enumerate(PATTERNS)}
    symbols = []
    i = 0
    while i < len(widths):
        size = 7 if len(widths) - i == 7 else 6
        symbols.append(lookup["".join(map(str, widths[i : i + size]))])
        i += size
    assert symbols[-1] == 106
    data, check = symbols[1:-2], symbols[-2]
    assert (symbols[0] + sum(p * v for p, v in enumerate(data, 1))) % 103 == check
    out, code_set = [], {104: "B", 105: "C"}[symbols[0]]
    for value in data:
        if value == 99 and code_set == "B":
            code_set = "C"
        elif value == 100 and code_set == "C":
            code_set = "B"
        elif code_set == "C":
            out.append(f"{value:02d}")
        else:
            out.append(chr(value + 32))
    return "".join(out)


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1))
def test_any_printable_text_round_trips(text):
    assert _decode(code128_widths(text)) == text


@given(st.from_regex(r"\A[0-9]{1,20}\Z"))
def test_digits_round_trip_and_stay_compact(digits):
    values = code128_values(digits)
    assert _decode(code128_widths(digits)) == digits
    # never longer than plain set B would be
    assert len(values) <= len(digits) + 3


def test_svg_draws_every_bar_and_escapes_its_label():
    svg = code128_svg("1234567890", label='Card "<1>"')
    bars = re.findall(r"M(\d+) 0h(\d+)v", svg)
    widths = code128_widths("1234567890")
    assert [int(w) for _, w in bars] == widths[0::2]
    assert int(bars[0][0]) == QUIET_ZONE
    assert 'aria-label="Card &quot;&lt;1&gt;&quot;"' in svg
    assert "<1>" not in svg
