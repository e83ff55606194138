"""Text normalisation for scoring: SQuAD's answer normaliser and a number/date canonicaliser.

`normalize_answer` is the SQuAD v1.1/v2.0 evaluation normaliser, unchanged: lower-case,
drop every character in `string.punctuation`, drop the words `a`, `an`, `the`, collapse
whitespace. Typographic quotes and dashes are not in `string.punctuation`, so SQuAD keeps
them; `normalize_numbers` folds them to ASCII first.

`normalize_numbers` rewrites, in this order (each rewrite is protected from the later ones):

1. Typography: curly quotes to `'`/`"`, en/em dashes and minus to `-`, no-break and thin
   spaces to a space, `…` to `...`.
2. ISO forms: `2025-05-14` (date), `2025-05` (month), `--05-14` (month and day) are
   validated and zero-padded.
3. Dates in words: `May 14, 2025`, `May 14th 2025`, `14 May 2025`, `14th of May, 2025` ->
   `2025-05-14`; `October 2023`, `Oct. 2023`, `October, 2023` -> `2023-10`; `May 14`,
   `14 May` (month capitalised, no year) -> `--05-14`. Month names: full English names
   and the abbreviations Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec (optional `.`).
   Impossible dates (`February 30, 2025`) are left alone. Weekdays are left alone.
4. Number words: `zero`..`nineteen`, `twenty`..`ninety`, compounds (`twenty-one`,
   `twenty one`), `hundred`, `thousand`, `million`, `billion`, `trillion`, `and` after a
   scale (`one hundred and fifty` -> `150`), `a`/`an` before a scale (`a million` ->
   `1000000`). A word glued to a non-number by a hyphen is left alone (`two-way`).
5. Digit numbers: thousands separators dropped (`9,200,000,000` -> `9200000000`),
   trailing decimal zeros dropped (`9.20` -> `9.2`), scales applied (`9.2 billion`,
   `9.2bn`, `9.2 bn`, `9.2-billion`, `5m`, `5 mn`, `10k`, `2 hundred`; the one-letter
   scales `m`, `k`, `b` only when glued to the number). Currency, before or after:
   `$`, `US$`, `USD`, `dollar(s)`, `US dollar(s)` -> `usd`; `€`, `EUR`, `euro(s)` -> `eur`;
   `£`, `GBP`, `pound(s) sterling` -> `gbp`; `RMB`, `CNY`, `yuan`, `renminbi` -> `cny`.
   Percent: `%`, `percent`, `per cent` -> `percent`. Output: `<number> [unit]`, e.g.
   `$9.2bn` -> `9200000000 usd`, `20%` -> `20 percent`.

Not normalised: ordinals (`second`, `20th`), fractions in words, numbers glued to letters
(`G20`, `1980s`), slash dates (`14/05/2025`, ambiguous), `¥` (yen or yuan), ranges. Words
around numbers are kept (`more than 150` -> `more than 150`). It is idempotent on the quantity forms listed above; on arbitrary text a second
pass can change a few odd forms again ("May fourteen" -> "May 14" -> a date; see
tests/evals/test_normalize_properties.py). Scoring applies it once to both sides, so this is harmless.

`extract_quantities` returns what step 2-5 recognised, for `numbers_present`-style checks.
"""

from __future__ import annotations

import functools
import re
import string
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Literal

__all__ = [
    "Quantity",
    "extract_quantities",
    "loosen",
    "normalize_answer",
    "normalize_numbers",
    "normalize_text",
    "quantity_supported",
]

QuantityKind = Literal["date", "month", "monthday", "number"]


@dataclass(frozen=True)
class Quantity:
    """A number or date recognised in a text, in canonical form."""

    kind: QuantityKind
    value: str
    """`2025-05-14`, `2023-10`, `--05-14`, or a number such as `9200000000` or `9.2`."""
    unit: str | None = None
    """`usd`, `eur`, `gbp`, `cny`, `percent`, or None."""

    def render(self) -> str:
        """The canonical text that replaces the quantity in normalised text."""
        return self.value if self.unit is None else f"{self.value} {self.unit}"


def normalize_answer(s: str) -> str:
    """SQuAD's normaliser: lower-case, drop punctuation, drop a/an/the, collapse whitespace."""
    text = s.lower()
    exclude = set(string.punctuation)
    text = "".join(ch for ch in text if ch not in exclude)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


@functools.lru_cache(maxsize=4096)  # pure; a run normalises the same golds and answers many times
def normalize_numbers(s: str) -> str:
    """Rewrite money, numbers and dates in `s` to a canonical form (see the module docstring)."""
    return _canonicalise(s)[0]


def extract_quantities(s: str) -> list[Quantity]:
    """The numbers and dates in `s`, canonicalised, in order of appearance."""
    return _canonicalise(s)[1]


@functools.lru_cache(maxsize=4096)
def normalize_text(s: str) -> str:
    """The scoring pipeline: `normalize_answer(normalize_numbers(s))`."""
    return normalize_answer(normalize_numbers(s))


def loosen(s: str) -> str:
    """A looser variant for containment checks: possessive 's dropped, hyphens and slashes as spaces.

    SQuAD's normaliser glues `second-largest` into `secondlargest` and `Xi's` into `xis`;
    alias matching tries this variant as well so those still match `second largest` and `Xi`.
    """
    text = re.sub(r"['\u2019]s\b", "", normalize_numbers(s))
    return normalize_answer(re.sub(r"[-/]", " ", text))


def quantity_supported(required: Quantity, available: list[Quantity]) -> bool:
    """True if `required` is stated by one of `available`.

    Dates match equal dates; a month matches that month or a date in it; a month-day matches
    that month-day or a full date with it. Numbers match equal values; a unit must agree
    when both sides carry one (`9.2 billion` is satisfied by `$9.2bn`, `$9.2bn` by
    `9.2 billion`, but not by `9.2 billion euros`). A bare year (1000-2999) is also
    satisfied by a date or month in that year.
    """
    for have in available:
        if required.kind == "number":
            if have.kind == "number" and have.value == required.value:
                if required.unit is None or have.unit is None or have.unit == required.unit:
                    return True
            elif (
                have.kind in ("date", "month") and required.unit is None and _is_year(required.value)
                and have.value[:4] == required.value
            ):  # fmt: skip
                return True
        elif required.kind == "date":
            if have.kind == "date" and have.value == required.value:
                return True
        elif required.kind == "month":
            if have.kind in ("date", "month") and have.value[:7] == required.value:
                return True
        elif have.kind in ("date", "monthday") and have.value[-5:] == required.value[-5:]:
            return True
    return False


def _is_year(value: str) -> bool:
    return value.isdigit() and len(value) == 4 and 1000 <= int(value) <= 2999


# --- implementation -----------------------------------------------------------------

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201a": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u201e": '"',
        "\u2033": '"',
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u00a0": " ",
        "\u2009": " ",
        "\u202f": " ",
        "\u2026": "...",
    }
)

_MONTHS = {
    "january": 1,
    "february": 2,
    "march": 3,
    "april": 4,
    "may": 5,
    "june": 6,
    "july": 7,
    "august": 8,
    "september": 9,
    "october": 10,
    "november": 11,
    "december": 12,
    "jan": 1,
    "feb": 2,
    "mar": 3,
    "apr": 4,
    "jun": 6,
    "jul": 7,
    "aug": 8,
    "sep": 9,
    "sept": 9,
    "oct": 10,
    "nov": 11,
    "dec": 12,
}
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_MON = rf"(?P<mon>{_MONTH_RE})\b\.?"
_MON_CAP = "(?P<mon>" + "|".join(m.capitalize() for m in sorted(_MONTHS, key=len, reverse=True)) + r")\b\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?(?![\w])"
_YEAR = r"(?P<year>\d{4})(?![\w])"
_B = r"(?<![\w-])"

_DATE_PATTERNS: list[tuple[QuantityKind, re.Pattern[str]]] = [
    ("date", re.compile(rf"{_B}(?P<year>\d{{4}})-(?P<mon>\d{{1,2}})-(?P<day>\d{{1,2}})(?![\w-])")),
    ("month", re.compile(rf"{_B}(?P<year>\d{{4}})-(?P<mon>\d{{2}})(?![\w-])")),
    ("monthday", re.compile(rf"{_B}--(?P<mon>\d{{2}})-(?P<day>\d{{2}})(?![\w-])")),
    ("date", re.compile(rf"(?<!\w){_MON}\s+{_DAY},?\s+{_YEAR}", re.IGNORECASE)),
    ("date", re.compile(rf"{_B}{_DAY}\s+(?:of\s+)?{_MON},?\s+{_YEAR}", re.IGNORECASE)),
    ("month", re.compile(rf"(?<!\w){_MON},?\s+{_YEAR}", re.IGNORECASE)),
    ("monthday", re.compile(rf"(?<!\w){_MON_CAP}\s+{_DAY}")),
    ("monthday", re.compile(rf"{_B}{_DAY}\s+(?:of\s+)?{_MON_CAP}")),
]

_UNITS = {
    w: i
    for i, w in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
        ]
    )
}
_TENS = {
    w: 10 * (i + 2)
    for i, w in enumerate(["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"])
}
_SCALES = {"hundred": 100, "thousand": 10**3, "million": 10**6, "billion": 10**9, "trillion": 10**12}
_WORD_RE = "|".join(sorted([*_UNITS, *_TENS, *_SCALES], key=len, reverse=True))
_SCALE_RE = "|".join(_SCALES)
_NUMBER_WORDS = re.compile(
    rf"{_B}(?:an?\s+(?=(?:{_SCALE_RE})\b))?(?:{_WORD_RE})(?:(?:\s+and\s+|[\s-]+)(?:{_WORD_RE}))*(?![\w-])",
    re.IGNORECASE,
)

_CURRENCY = {
    "$": "usd",
    "us$": "usd",
    "usd": "usd",
    "dollar": "usd",
    "dollars": "usd",
    "us dollar": "usd",
    "us dollars": "usd",
    "€": "eur",
    "eur": "eur",
    "euro": "eur",
    "euros": "eur",
    "£": "gbp",
    "gbp": "gbp",
    "pound sterling": "gbp",
    "pounds sterling": "gbp",
    "rmb": "cny",
    "cny": "cny",
    "yuan": "cny",
    "renminbi": "cny",
}
_DIGIT_SCALES = {"k": 10**3, "m": 10**6, "mn": 10**6, "b": 10**9, "bn": 10**9, "tn": 10**12, **_SCALES}
_MONEY = re.compile(
    r"(?<![\w.,$€£])"
    r"(?:(?P<pre>US\s?\$|\$|€|£|USD|EUR|GBP|RMB|CNY)\s?)?"
    r"(?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)"
    r"(?:(?P<sa>bn|mn|tn|k|m|b)(?![A-Za-z0-9])|[\s-]?(?P<sw>hundred|thousand|million|billion|trillion|bn|mn|tn)(?![A-Za-z0-9]))?"
    r"(?:\s?(?P<pct>%)|[\s-]+(?P<suf>percent|per\s?cent|US\s+dollars?|dollars?|USD|euros?|EUR|yuan|renminbi|RMB|CNY|pounds?\s+sterling|GBP)(?![A-Za-z]))?"
    r"(?![\w])",
    re.IGNORECASE,
)


class _Protector:
    """Swaps recognised quantities for placeholders so later passes cannot touch them."""

    def __init__(self) -> None:
        self.found: list[Quantity] = []

    def hold(self, quantity: Quantity) -> str:
        self.found.append(quantity)
        return f"\ue000{chr(0xE100 + len(self.found) - 1)}\ue001"

    def restore(self, text: str) -> str:
        return re.sub("\ue000(.)\ue001", lambda m: self.found[ord(m.group(1)) - 0xE100].render(), text)

    def in_order(self, text: str) -> list[Quantity]:
        return [self.found[ord(c) - 0xE100] for c in re.findall("\ue000(.)\ue001", text)]


def _canonicalise(s: str) -> tuple[str, list[Quantity]]:
    text = s.translate(_TYPOGRAPHY)
    protector = _Protector()
    for kind, pattern in _DATE_PATTERNS:
        text = pattern.sub(partial(_date_sub, kind=kind, protector=protector), text)
    text = _NUMBER_WORDS.sub(_words_sub, text)
    text = _MONEY.sub(lambda m: _money_sub(m, protector), text)
    return protector.restore(text), protector.in_order(text)


def _date_sub(m: re.Match[str], kind: QuantityKind, protector: _Protector) -> str:
    groups = m.groupdict()
    mon_text = groups["mon"]
    month = int(mon_text) if mon_text.isdigit() else _MONTHS[mon_text.lower()]
    day = int(groups["day"]) if groups.get("day") else 1
    year = int(groups["year"]) if groups.get("year") else 2000  # leap year: allows --02-29
    try:
        date(year, month, day)
    except ValueError:
        return m.group(0)
    if kind == "date":
        value = f"{year:04d}-{month:02d}-{day:02d}"
    elif kind == "month":
        value = f"{year:04d}-{month:02d}"
    else:
        value = f"--{month:02d}-{day:02d}"
    return protector.hold(Quantity(kind, value))


def _words_sub(m: re.Match[str]) -> str:
    tokens = [t for t in re.split(r"[\s-]+", m.group(0)) if t]
    pieces: list[str] = []
    total = current = 0
    last: str | None = None
    last_scale = 10**15

    def flush() -> None:
        nonlocal total, current, last, last_scale
        if last is not None:
            pieces.append(str(total + current))
            if last == "and":
                pieces.append("and")
        total = current = 0
        last, last_scale = None, 10**15

    for token in tokens:
        word = token.lower()
        if word in ("a", "an"):
            current, last = 1, "unit"
            continue
        if word == "and":
            if last in ("hundred", "scale"):
                last = "and"
            else:
                flush()
                pieces.append(token)
            continue
        kind = "hundred" if word == "hundred" else "scale" if word in _SCALES else "tens" if word in _TENS else "unit"
        value = _UNITS.get(word, _TENS.get(word, _SCALES.get(word, 0)))
        after_number = last in ("unit", "tens", "hundred")
        if kind == "unit":
            ok = last in (None, "hundred", "scale", "and") or (last == "tens" and current % 10 == 0 and value < 10)
            ok = ok and not (value == 0 and last is not None)
        elif kind == "tens":
            ok = last in (None, "hundred", "scale", "and")
        elif kind == "hundred":
            ok = last in ("unit", "tens") and 0 < current < 100
        else:
            ok = after_number and current > 0 and value < last_scale
        if not ok:
            flush()
            if kind in ("hundred", "scale"):
                pieces.append(token)
                continue
        if kind == "hundred":
            current *= 100
        elif kind == "scale":
            total, current, last_scale = total + current * value, 0, value
        else:
            current += value
        last = kind
    flush()
    return " ".join(pieces)


def _money_sub(m: re.Match[str], protector: _Protector) -> str:
    number = Decimal(m.group("num").replace(",", ""))
    scale = (m.group("sa") or m.group("sw") or "").lower()
    if scale:
        number *= _DIGIT_SCALES[scale]
    suffix = (m.group("suf") or "").lower()
    unit: str | None = None
    if m.group("pct") or suffix.startswith("per"):
        unit = "percent"
    else:
        raw = m.group("pre") or suffix
        if raw:
            unit = _CURRENCY.get(re.sub(r"\s+", " ", raw.lower()).replace("us $", "us$"))
    value = str(int(number)) if number == number.to_integral_value() else format(number.normalize(), "f")
    return protector.hold(Quantity("number", value, unit))
