"""Text that reaches a spreadsheet cell: never run as a formula (CSV injection).

Following OWASP's CSV-injection guidance, a cell is treated as a formula when, after any
leading whitespace and invisible characters (zero-width spaces, BOMs, direction marks), its
first character is `=`, `+`, `-` or `@`, or a look-alike a spreadsheet may read as one (the
full-width `＝＋－＠`, small forms, the minus sign: whatever NFKC folds to those four); or
when it starts with a tab or carriage return. Such cells get a leading `'`, which spreadsheets
show as text and which reading the report back removes.
"""
from __future__ import annotations

import unicodedata

FORMULA_STARTS = ("=", "+", "-", "@")
CONTROL_STARTS = ("\t", "\r")
LOOKALIKES = {"\u2212": "-"}  # MINUS SIGN: NFKC leaves it, some spreadsheets read it as a minus


def _first_visible(cell: str) -> str:
    for ch in cell:
        if not (ch.isspace() or unicodedata.category(ch) in ("Cf", "Zs", "Zl", "Zp")):
            return ch
    return ""


def is_formula_like(cell: str) -> bool:
    """True when a spreadsheet could run the cell as a formula."""
    if cell.startswith(CONTROL_STARTS):
        return True
    if not cell:
        return False
    head = cell[0]
    if head.isascii() and not head.isspace():  # most cells: visible, and NFKC leaves ASCII as it is
        return head in FORMULA_STARTS
    first = _first_visible(cell)
    first = LOOKALIKES.get(first, unicodedata.normalize("NFKC", first))
    return first.startswith(FORMULA_STARTS)


def neutralise(cell: str) -> str:
    """The cell as spreadsheet-safe text: a leading `'` when it could run as a formula."""
    return "'" + cell if is_formula_like(cell) else cell


def unneutralise(cell: str | None) -> str:
    """Undo neutralise: "'=x" was written for "=x". (A value that really began with a quote
    before a formula character reads back without the quote: rare, and only cosmetic.)"""
    if cell and cell.startswith("'") and is_formula_like(cell[1:]):
        return cell[1:]
    return cell or ""
