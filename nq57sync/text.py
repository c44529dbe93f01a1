"""Text from sources and files, made safe to store and to show.

Anything a portal or an export says may hold characters no file format can
carry: lone surrogates (invalid in UTF-8: SQLite, every report and every HTTP
answer refuse them) and control characters (invalid in XML: .docx and .xlsx
refuse them). They become U+FFFD, the replacement character, once, where text
enters the model, so every output shows the same text; the text is composed
(NFC) there too. Markup and formula
starters are kept as they are: each output escapes them its own way.
"""

from __future__ import annotations

import re
import unicodedata

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def printable(text: str) -> str:
    """`text` in composed form (NFC), every character no output can carry replaced by U+FFFD.

    Windows-1258 files spell Vietnamese with combining tone marks (NFD); composed,
    the same name from two sources compares equal.
    """
    if text.isascii():
        return text if text.isprintable() else _UNSAFE.sub(REPLACEMENT, text)
    return unicodedata.normalize("NFC", _UNSAFE.sub(REPLACEMENT, text))


def printable_or_none(text: str | None) -> str | None:
    return None if text is None else printable(text)


#: Leading characters that make a spreadsheet read a cell as a formula (OWASP's list).
FORMULA_STARTERS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> object:
    """A CSV field that no spreadsheet runs: text starting a formula gets a leading '.

    Numbers, negative numbers included, stay numbers.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTERS):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
