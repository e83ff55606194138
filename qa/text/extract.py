"""Extract before writing: key sentences, compressed sentences, figures and entities.

Deterministic text functions, no model: what a summary is built on.

- `key_sentences` picks the sentences a summary must cover within a word budget: the lead,
  then greedily what adds the most central vocabulary not yet covered per word (with a
  bonus for coming early), and no two that say nearly the same thing (maximal marginal
  relevance).
- `compress` shortens a sentence without adding a word: it drops attribution tails
  ("..., the agency said"), parentheses (nested ones too), Wikipedia's editorial marks
  ("[citation needed]"), leading connectives ("However,", "Thus,") and asides the sentence
  states its main fact without (a relative clause, examples, a closing "with" or -ing
  phrase, paired dashes, the clause after a semicolon), so more facts fit in fewer words. A compressed sentence is
  an extractive key point: every word of it is the article's.
- `find_figures` lists amounts, dates and counts as written, with their kind decided by
  their form (an amount has a currency or a scale, a date a month or a year) and their
  meaning taken from the words that follow them in the same sentence.
- `find_entities` lists proper names that occur in the article, most mentioned first, with
  a type read from how the article uses them and a role phrase copied from a sentence
  that names them.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, cast

from qa.text.article import Sentence
from qa.text.support import content_terms

__all__ = ["FoundEntity", "FoundFigure", "compress", "find_entities", "find_figures", "key_sentences"]

_LEAD_BONUS = 1.5  # news and encyclopaedia articles put their key facts first (lead-3 is a hard baseline)
_LEAD_DECAY = 0.5  # the bonus of the n-th candidate is _LEAD_BONUS / (1 + _LEAD_DECAY * n)
_LENGTH_EXPONENT = 0.6  # between choosing by weight alone (0) and by weight per word (1)
_REDUNDANT = 0.55
_MEANING_WORDS = 6
_SENTENCE_END = re.compile(r"[.!?][\"'”’)\]]*\s*$")


def key_sentences(
    sentences: Sequence[Sentence],
    k: int,
    budget: int | None = None,
    skip: frozenset[int] = frozenset(),
    *,
    least: int = 1,
    given: Sequence[str] = (),
) -> list[int]:
    """Numbers (1-based, reading order) of at most `k` sentences a summary should cover.

    The lead (the first candidate) comes first, as the article's own summary, unless the
    summary already has `given` statements (a headline and standfirst). Then, one at a time,
    the sentence that adds the most per word once compressed: the weight of the terms it
    adds that nothing chosen or given covers yet (a term weighs how many other sentences use
    it, so central vocabulary counts and a repeat adds nothing) plus a bonus for coming early,
    divided by its length to the power `_LENGTH_EXPONENT` (short sentences that say as much
    win). A sentence whose terms mostly repeat a chosen one's is skipped (maximal marginal
    relevance). Sentences of fewer than three content words or that do not end as a sentence
    does (a subheading, a quote fragment) are not candidates, nor are the numbers in `skip`
    (e.g. subheadings); they still count for the others' weights.

    With `budget`, the chosen sentences together have at most that many words once
    compressed. At least `least` sentences are chosen all the same (a summary needs its
    points): room is kept for the shortest ones, and if even those overrun, the shortest
    for what they add are taken.
    """
    short = [compress(s.text) for s in sentences]
    terms = [content_terms(text) for text in short]
    words = [len(text.split()) for text in short]
    df = Counter(t for s in sentences for t in content_terms(s.text))
    weight = {t: n - 1.0 for t, n in df.items()}  # how many other sentences use the term
    candidates = [
        i
        for i in range(len(sentences))
        if len(terms[i]) >= 3 and i + 1 not in skip and _SENTENCE_END.search(_WIKI_MARKS.sub("", sentences[i].text))
    ]
    early = {i: _LEAD_BONUS / (1 + _LEAD_DECAY * rank) for rank, i in enumerate(candidates)}
    top = max((sum(weight.get(t, 0.0) for t in terms[i]) for i in candidates), default=0.0) or 1.0
    chosen = [] if given else candidates[:1]
    covered = {t for text in given for t in content_terms(text)} | {t for i in chosen for t in terms[i]}
    used = sum(words[i] for i in chosen)
    limit = sum(words) if budget is None else budget
    while len(chosen) < max(k, least):
        open_ = [
            i for i in candidates if i not in chosen and all(_overlap(terms[i], terms[j]) <= _REDUNDANT for j in chosen)
        ]
        owed = max(least - len(chosen) - 1, 0)  # sentences still owed after this one: keep room for the shortest
        room = limit - used - sum(sorted(words[i] for i in open_)[:owed])
        fits = [i for i in open_ if words[i] <= room]
        overrun = not fits and len(chosen) < least
        if not fits and not overrun:
            break
        exponent = 1.0 if overrun else _LENGTH_EXPONENT
        value = {
            i: (sum(weight.get(t, 0.0) for t in terms[i] - covered) / top + early[i]) / max(words[i], 1) ** exponent
            for i in fits or open_
        }
        best = max(value, key=lambda i: (value[i], -i), default=None)
        if best is None:
            break
        chosen.append(best)
        covered |= terms[best]
        used += words[best]
    return sorted(i + 1 for i in chosen)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


_ATTRIBUTION = re.compile(
    r"""[,;]\s+(?:(?:the\s+)?[\w'’ -]{1,60}?\s+)?(?:said|says|told\s+[\w'’ -]{1,40}|added|wrote(?:\s+on\s+\w+)?|reported|announced|stated)"""
    r"""(?:\s+on\s+\w+day)?(?:[,;][^.!?]*)?(?=[.!?]["'”’]?$)""",
    re.IGNORECASE,
)
_PARENS = re.compile(r"\s*\([^()]{0,120}\)")
_WIKI_MARKS = re.compile(
    r"\s*\[(?:\d{1,3}|[a-z ]{0,30}needed|vague|dubious|discuss|update|specify"
    r"|(?:who|when|which|where|why|by whom|according to whom)\?)\]"
)
"""Wikipedia's editorial marks ("[citation needed]", "[who?]", "[3]"); brackets that add words to a quote stay."""
_CONNECTIVE = re.compile(
    r"^(?:However|Meanwhile|Moreover|Furthermore|Further|In addition|Additionally|Also|But|And|So|Still|Yet"
    r"|Indeed|In fact|Thus|Therefore|Consequently|Nevertheless|Nonetheless|Instead|Likewise|Similarly|Notably"
    r"|Finally),\s+",
    re.IGNORECASE,
)


_AUX = r"(?:is|was|are|were|has|had|have|will|would|can|could|may|might|must|should|did|does)\b"
_VERB = rf"(?:{_AUX}|[a-z]{{3,}}ed\b)"
_PHRASE = r"(?:[^,;()\"“”]|,(?=\d))"  # no clause break, parenthesis or quote mark (a digit group's comma is fine)
_ASIDES = (
    # paired dashes: "the Parliament – the areas in which it can make laws – by ..."
    re.compile(r"\s+[–—]\s+[^–—.;()\"“”]{1,120}?\s+[–—](?=\s)"),
    # examples that end the sentence or come before its verb: "..., such as automobiles."
    re.compile(
        rf",\s+(?:such as|including|for example|for instance)\s+{_PHRASE}{{1,80}}?(?:(?=[.!?]$)|(,)(?=\s+{_AUX}))"
    ),
    # a relative clause between the subject and its verb: "The Duchy, which began in 911 as a fief, was ..."
    re.compile(rf",\s+(?:which|who|whose|whom)\s+{_PHRASE}{{3,100}}?,(?=\s+{_VERB})"),
    # a closing relative clause, "with" phrase or -ing phrase (not a list: "flying, driving and boating"):
    # "..., which makes Warsaw the 9th most-populous capital city in the European Union."
    re.compile(rf"(?<![a-z]ing),\s+(?:which|who|whose|whom|with|[a-z]{{2,}}ing)\s{_PHRASE}{{3,}}?(?=[.!?]$)"),
    # the second clause after the sentence's only semicolon: "... to nearly $12 globally; US prices were higher."
    re.compile(r"^([^;]*?);\s+(?!and\b|or\b|but\b)[^;\"“”]{3,}?(?=[.!?]$)"),
)
"""Asides a sentence still says its main fact without. Each is dropped at most once, and never
from inside a quotation; the rest of the sentence is left as it was."""


def _kept(match: re.Match[str]) -> str:
    """What stays of an aside's match: nothing, or the clause before a dropped second clause, or the
    comma that closes an aside the examples sat in ("The resistance, with allies, including X, was"
    keeps one); all of it inside a quotation."""
    before = match.string[: match.start()]
    if before.count('"') % 2 or before.count("“") > before.count("”"):
        return match.group(0)  # inside a quotation: its words are someone's, not ours to cut
    kept = (match.group(1) if match.re.groups else None) or ""
    if kept == ",":
        return "," if "," in before else ""
    return kept


def compress(text: str) -> str:
    """`text` shortened by deletions only: editorial marks, parentheses, the attribution tail, a
    leading connective, then `_ASIDES` (dashes, examples, relative clauses, closing phrases, the
    clause after a semicolon). Every word left is the article's, in its order."""
    out = _WIKI_MARKS.sub("", text)
    while (shorter := _PARENS.sub("", out)) != out:  # innermost first: "(Polish: Warszawa ( listen))" goes whole
        out = shorter
    out = _ATTRIBUTION.sub("", out)
    out = _CONNECTIVE.sub("", out)
    for aside in _ASIDES:
        out = aside.sub(_kept, out, count=1)
    out = out.strip()
    if out and out[0].islower():
        out = out[0].upper() + out[1:]
    if out and out[-1] not in ".!?\"'”’":
        out += "."
    # A deletion that leaves too little was a wrong guess: keep the sentence whole.
    return out if len(content_terms(out)) >= max(3, len(content_terms(text)) // 3) else text


FigureKind = Literal["amount", "date", "count"]
EntityType = Literal["person", "organization", "place", "program", "other"]


@dataclass(frozen=True)
class FoundFigure:
    """A figure as the article writes it."""

    value: str
    kind: FigureKind
    meaning: str
    sentence: int


_MONTHS = r"(?:January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\.?"
_FIGURE = re.compile(
    rf"""(?P<amount>(?:US)?[$€£¥]\s?\d[\d,.]*(?:\s?(?:billion|million|trillion|bn|m|k)\b)?|\d[\d,.]*\s?(?:billion|million|trillion)\s+(?:dollars|euros|pounds|yuan)|\d[\d,.]*\s?(?:%|percent|per\s+cent)\b)"""
    rf"""|(?P<date>\b{_MONTHS}\s+\d{{1,2}}(?:,\s+\d{{4}})?\b|\b\d{{1,2}}\s+{_MONTHS}(?:\s+\d{{4}})?\b|\b{_MONTHS}\s+\d{{4}}\b|\b(?:1[5-9]|20)\d{{2}}s?\b|\b\d{{1,2}}(?:st|nd|rd|th)\s+century\b)"""
    rf"""|(?P<count>\b(?:more\s+than\s+|over\s+|about\s+|nearly\s+|almost\s+)?\d[\d,.]*(?:\s+(?:million|billion|thousand|hundred))?(?=\s+[a-z]))""",
)


def find_figures(sentences: Sequence[Sentence], numbers: Sequence[int], limit: int = 6) -> list[FoundFigure]:
    """Figures in sentences `numbers` (1-based), in order, each value once."""
    out: list[FoundFigure] = []
    seen: set[str] = set()
    for n in numbers:
        text = sentences[n - 1].text
        for m in _FIGURE.finditer(text):
            value = m.group(0).strip().rstrip(".,")
            kind = cast(FigureKind, m.lastgroup or "count")  # lastgroup is one of _FIGURE's group names
            meaning = _meaning(text, m.start(), m.end())
            if not value or value.lower() in seen or len(value) > 60 or not meaning:
                continue
            seen.add(value.lower())
            out.append(FoundFigure(value=value, kind=kind, meaning=meaning, sentence=n))
            if len(out) >= limit:
                return out
    return out


def _meaning(text: str, start: int, end: int) -> str:
    """The words after a figure up to the next punctuation (at most `_MEANING_WORDS`), else the words before
    ("" when neither says anything: such a figure is not listed)."""
    rest = re.split(r"[,;:.!?()\"“”]", text[end:], maxsplit=1)[0].split()
    phrase = " ".join(rest[:_MEANING_WORDS]).strip()
    if len(rest) < 2:
        phrase = " ".join(re.split(r"[,;:.!?()\"“”]", text[:start])[-1].split()[-8:]).strip() or phrase
    return phrase.strip(" '‘’\"“”")[:120]


@dataclass(frozen=True)
class FoundEntity:
    """A proper name of the article, with a type and a role phrase from the article."""

    name: str
    type: EntityType
    role: str
    mentions: int


_NAME = re.compile(
    r"\b(?:[A-Z][\w'’.-]*[a-z][\w'’-]*|[A-Z]{2,})(?:\s+(?:of\s+the\s+|of\s+|de\s+|and\s+)?(?:[A-Z][\w'’.-]*[a-z][\w'’-]*|[A-Z]{2,}))*"
)
_TITLES = {"president", "minister", "leader", "counterpart", "king", "queen", "chancellor", "governor", "senator",
           "prime", "ceo", "chairman", "secretary", "spokesman", "spokeswoman", "general", "director", "mr", "mrs", "ms", "dr"}  # fmt: skip
_ORG_WORDS = {"ministry", "agency", "bank", "party", "company", "council", "parliament", "court", "union", "initiative",
              "news", "corporation", "university", "government", "committee", "organization", "organisation", "fund",
              "group", "army", "church", "office", "commission", "association"}  # fmt: skip
_SKIP = {"The", "A", "An", "This", "That", "These", "Those", "It", "He", "She", "They", "We", "In", "On", "At", "But",
         "And", "As", "After", "Before", "When", "While", "If", "However", "Meanwhile", "For", "From", "With", "By", "His",
         "Her", "Its", "Their", "Our", "Some", "Many", "Most", "There", "Here", "According", "Monday", "Tuesday",
         "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Photo", "AP"}  # fmt: skip


def find_entities(sentences: Sequence[Sentence], limit: int = 6) -> list[FoundEntity]:
    """The most mentioned proper names, with type and role read from the sentences."""
    mentions: Counter[str] = Counter()
    first: dict[str, tuple[int, int, int]] = {}
    for n, sentence in enumerate(sentences, 1):
        for name, at in _names(sentence.text):
            if not name or name in _SKIP or re.fullmatch(_MONTHS, name) or len(name) < 2:
                continue
            mentions[name] += 1
            first.setdefault(name, (n, at, at + len(name)))
    for name in list(mentions):  # "Xi" counts for "Xi Jinping"; a longer name absorbs its parts
        for longer in mentions:
            if longer != name and re.search(rf"\b{re.escape(name)}\b", longer) and mentions[longer] >= 1:
                mentions[longer] += mentions[name]
                mentions[name] = 0
                break
    out: list[FoundEntity] = []
    for name, count in mentions.most_common():
        if count == 0 or len(out) >= limit:
            break
        n, start, end = first[name]
        text = sentences[n - 1].text
        out.append(
            FoundEntity(name=name, type=_entity_type(name, text, start), role=_role(text, start, end), mentions=count)
        )
    return out


def _names(text: str) -> list[tuple[str, int]]:
    """Proper names in `text` with their offsets; "X and Y" stays one name only for an organisation."""
    out = []
    for m in _NAME.finditer(text):
        parts = [m.group(0)]
        if " and " in m.group(0) and not {w.lower() for w in m.group(0).split()} & _ORG_WORDS:
            parts = m.group(0).split(" and ")
        offset = m.start()
        for part in parts:
            at = text.find(part, offset)
            name = _trim(part)
            if name:
                out.append((name, at + part.find(name)))
            offset = at + len(part)
    return out


def _trim(name: str) -> str:
    words = re.sub(r"['’]s$", "", name.strip()).split()
    while words and (words[0] in _SKIP or words[0].lower().strip(".") in _TITLES):
        words = words[1:]
    return re.sub(r"['’]s$", "", " ".join(words)).strip(".'’ ")


_COUNTRIES = frozenset(
    """afghanistan albania algeria andorra angola argentina armenia australia austria azerbaijan bahamas bahrain
    bangladesh barbados belarus belgium belize benin bhutan bolivia botswana brazil brunei bulgaria burundi
    cambodia cameroon canada chad chile china colombia comoros congo croatia cuba cyprus czechia denmark
    djibouti dominica ecuador egypt eritrea estonia eswatini ethiopia fiji finland france gabon gambia georgia
    germany ghana greece grenada guatemala guinea guyana haiti honduras hungary iceland india indonesia iran
    iraq ireland israel italy jamaica japan jordan kazakhstan kenya kiribati kosovo kuwait kyrgyzstan laos
    latvia lebanon lesotho liberia libya liechtenstein lithuania luxembourg madagascar malawi malaysia maldives
    mali malta mauritania mauritius mexico micronesia moldova monaco mongolia montenegro morocco mozambique
    myanmar namibia nauru nepal netherlands nicaragua niger nigeria norway oman pakistan palau palestine panama
    paraguay peru philippines poland portugal qatar romania russia rwanda samoa senegal serbia seychelles
    singapore slovakia slovenia somalia spain sudan suriname sweden switzerland syria taiwan tajikistan tanzania
    thailand togo tonga tunisia turkey turkmenistan tuvalu uganda ukraine uruguay uzbekistan vanuatu venezuela
    vietnam yemen zambia zimbabwe europe africa asia""".split()  # noqa: SIM905 - a word list reads better as text
)
"""Country (and continent) names of one word: a place however the sentence uses them."""


def _entity_type(name: str, text: str, start: int) -> EntityType:
    before = text[max(0, start - 40) : start].lower().split()
    words = {w.lower().strip(".") for w in name.split()}
    if words & _ORG_WORDS or name.isupper():
        return "organization"
    if name.lower() in _COUNTRIES:
        return "place"
    if before and before[-1].strip(".,") in _TITLES:
        return "person"
    if (before and before[-1] in ("in", "to", "from", "across", "of")) or name.endswith(("ia", "land", "stan")):
        return "place"
    if len(name.split()) >= 2 and all(w[0].isupper() for w in name.split()):
        return "person" if not words & {"america", "states", "east", "west", "sea", "ocean", "road"} else "place"
    return "other"


def _role(text: str, start: int, end: int) -> str:
    """A phrase of the sentence that names the entity: the words before its name, or after."""
    before = re.split(r"[,;:.!?()\"“”]", text[:start])[-1].split()[-4:]
    after = re.split(r"[,;:.!?()\"“”]", text[end:], maxsplit=1)[0].split()[:4]
    phrase = " ".join([*before, text[start:end], *after])
    return phrase.strip(" '‘’\"“”")[:120]
