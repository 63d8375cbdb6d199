"""Code 128 barcodes as inline SVG, rendered on the server (no image files, no JavaScript).

Code 128 (ISO/IEC 15417) is what till scanners read out of the box. Each symbol is three bars
and three spaces, 11 modules wide; a symbol's value depends on the code set: B holds printable
ASCII, C holds a pair of digits. A barcode is: start symbol, data symbols (with code-set
switches), a check symbol (start value + sum of value x position, mod 103), the stop symbol.

Member numbers are all digits, so they are encoded in code set C (half as wide as B); any other
printable ASCII text uses B, switching to C for long runs of digits.
"""

from html import escape

# Bar/space widths in modules for symbol values 0..106 (106 is the stop, 13 modules wide).
PATTERNS: tuple[str, ...] = (
    "212222", "222122", "222221", "121223", "121322", "131222", "122213", "122312",
    "132212", "221213", "221312", "231212", "112232", "122132", "122231", "113222",
    "123122", "123221", "223211", "221132", "221231", "213212", "223112", "312131",
    "311222", "321122", "321221", "312212", "322112", "322211", "212123", "212321",
    "232121", "111323", "131123", "131321", "112313", "132113", "132311", "211313",
    "231113", "231311", "112133", "112331", "132131", "113123", "113321", "133121",
    "313121", "211331", "231131", "213113", "213311", "213131", "311123", "311321",
    "331121", "312113", "312311", "332111", "314111", "221411", "431111", "111224",
    "111422", "121124", "121421", "141122", "141221", "112214", "112412", "122114",
    "122411", "142112", "142211", "241211", "221114", "413111", "241112", "134111",
    "111242", "121142", "121241", "114212", "124112", "124211", "411212", "421112",
    "421211", "212141", "214121", "412121", "111143", "111341", "131141", "114113",
    "114311", "411113", "411311", "113141", "114131", "311141", "411131", "211412",
    "211214", "211232", "2331112",
)  # fmt: skip

CODE_B = 100  # switch to set B (in set C)
CODE_C = 99  # switch to set C (in set B)
START_B = 104
START_C = 105
STOP = 106
QUIET_ZONE = 10  # modules of blank space each side, required by scanners


def _digit_run(text: str, start: int) -> int:
    end = start
    while end < len(text) and text[end].isdigit():
        end += 1
    return end - start


def code128_values(text: str) -> list[int]:
    """Symbol values for `text`: start, data, check, stop. Raises ValueError on an empty text
    or a character outside printable ASCII (32..126)."""
    if not text:
        raise ValueError("Nothing to encode.")
    for char in text:
        if not 32 <= ord(char) <= 126:
            raise ValueError(f"Code 128 B cannot encode {char!r}.")

    values: list[int] = []
    i = 0
    # Set C pays off for a run of 4+ digits at the start (or 2+ if the text is only digits).
    lead = _digit_run(text, 0)
    in_c = lead >= 4 or (lead == len(text) and lead >= 2)
    values.append(START_C if in_c else START_B)
    while i < len(text):
        if in_c:
            if _digit_run(text, i) >= 2:
                values.append(int(text[i : i + 2]))
                i += 2
                continue
            values.append(CODE_B)
            in_c = False
            continue
        run = _digit_run(text, i)
        # In the middle a run must save more than the two switches cost: 6+ digits; at the
        # end only one switch is paid: 4+ digits. An odd run keeps its first digit in set B.
        if run >= 6 or (run >= 4 and i + run == len(text)):
            if run % 2:
                values.append(ord(text[i]) - 32)
                i += 1
            values.append(CODE_C)
            in_c = True
            continue
        values.append(ord(text[i]) - 32)
        i += 1
    check = values[0] + sum(position * value for position, value in enumerate(values[1:], 1))
    values.append(check % 103)
    values.append(STOP)
    return values


def code128_widths(text: str) -> list[int]:
    """Module widths of the bars and spaces, alternating, starting with a bar."""
    return [int(w) for value in code128_values(text) for w in PATTERNS[value]]


def code128_svg(text: str, *, height: int = 50, label: str | None = None) -> str:
    """An inline SVG of the barcode: one path, drawn in modules and scaled by the viewBox, so
    CSS sets the printed size. `label` is the accessible name (the text by default)."""
    widths = code128_widths(text)
    total = sum(widths) + 2 * QUIET_ZONE
    x = QUIET_ZONE
    bars = []
    for index, width in enumerate(widths):
        if index % 2 == 0:
            bars.append(f"M{x} 0h{width}v{height}h-{width}z")
        x += width
    name = escape(label if label is not None else text, quote=True)
    return (
        f'<svg class="barcode" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {total} {height}"'
        f' preserveAspectRatio="none" shape-rendering="crispEdges" role="img"'
        f' aria-label="{name}"><rect width="{total}" height="{height}" fill="#fff"/>'
        f'<path fill="#000" d="{"".join(bars)}"/></svg>'
    )
