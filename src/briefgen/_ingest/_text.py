"""Page furniture out of article text, by properties of lines rather than lists of lines.

A saved page is article text wrapped in furniture: timestamps, bylines, captions and
credits, share and comment widgets, cookie and paywall notices, menus, teasers. Each line is
judged by what it is like — its length, its share of letters, whether it reads as a
sentence, its place before, inside or after the run of prose that is the article, whether
the page repeats it, and a vocabulary of furniture that no reporting sentence needs — and
removed with its reason. A timestamp or a byline becomes the article's metadata instead.
The headline stays, once, however often the page prints it.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from briefgen._ingest._article import Found, Metadata

_BULLET = re.compile(r"^\s*[•·*\-–—]\s+")
# A line of a fact box: "Death toll: 12", "Rescued: 30,000" — a figure, not a label.
_FACT = re.compile(r"^[A-Z][\w ’'-]{0,30}:\s*(?:about |more than |at least )?[\d][\d,.]*\b")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")
_TERMINAL = re.compile(r"[.!?:;…][\"'”’)\]]*$|[”\"]$")
# An unrendered data binding such as {{data.cm.views}} means the line is page code. Braces
# in prose ("the banner read {{ justice }}") are article text and reach the model as is.
_PLACEHOLDER = re.compile(r"\{\{\s*[A-Za-z_]\w*(\.\w+)+\s*\}\}")

# Vocabulary no reporting sentence needs: these phrases mark a line as furniture even when
# it reads as a sentence ("We use cookies to improve your experience.").
_ANY_LINE = {
    "paywall": r"premium articles?|free articles?|reached your limit|support (?:our |quality |"
    r"independent )?journalism|subscribe (?:now|today|to (?:read|continue|the|our))|"
    r"available only to subscribers|already a subscriber|(?:log|sign) ?in to (?:continue|read)|"
    r"sign up to (?:continue|read)|to continue reading|continue reading this article|"
    r"unlimited (?:website |digital )?access|limited (?:website )?access|cancel or pause|"
    r"which email you used|for your subscription|subscribe (?:&|and) save|become an? "
    r"(?:\w+ )?(?:member|subscriber)|already have an account|subscriber only|premium content|"
    r"all set to enjoy|manage (?:your |print )?subscription|click here to subscribe|"
    r"(?:monthly|annual|yearly|digital) plan\b|best value|billed as|\bper month\b|/month\b|"
    r"\bt&c\b|save \d+%|your (?:donation|support|contribution)|make a (?:donation|contribution)|"
    r"(?:donate|contribute) (?:now|today)",
    "newsletter": r"newsletters?\b.{0,80}?\b(?:sign|inbox|deliver|subscribe)|"
    r"sign up for (?:our|the|\w+'s)|\byour inbox\b|enter your email|"
    r"(?:stay up to date|updates?) with notifications|"
    r"notifications? (?:can be|are) managed|(?:turn on|enable|allow) (?:push )?notifications|"
    r"breaking news alerts",
    "promo": r"\bget (?:the )?latest\b.{0,60}?\bupdates?\b|"
    r"\bstay (?:updated|tuned|informed) (?:with|on)\b|"
    r"\bfollow us on\b|\bstory continues below\b",
    "cookie": r"\bwe use cookies|\b(?:site|website|page) uses cookies|\bcookies?\b.{0,80}?\b(?:"
    r"accept|settings|policy|consent|preferences)\b|privacy (?:policy|notice|settings)|terms "
    r"(?:of|and) (?:use|service|conditions)|accept all|manage (?:preferences|consent)|"
    r"do not sell my",
    "copyright": r"©|\(c\) ?(?:19|20)\d\d|\bcopyright (?:©|\(c\)|(?:19|20)\d\d)|"
    r"all rights reserved",
    "app-promo": r"download (?:our|the) (?:\w+ )?app|get the (?:\w+ )?app\b|"
    r"(?:available|download it) on (?:the app store|google play|ios|android)",
    "notice": r"non-commercial use|for (?:your )?personal use only|constitute a republication|"
    r"may be outdated or superseded|this archived (?:news )?(?:story|article)",
    "comment-form": r"leave a (?:comment|reply)|post (?:a )?comment|your email address will not "
    r"be published|required fields are marked|comments? (?:are|is) closed|(?:log|sign) ?in to "
    r"comment|add a comment|join the (?:conversation|discussion)|be the first to comment|"
    r"comment policy|comments? (?:on this (?:story|article) )?(?:are|is) (?:moderated|welcome|"
    r"closed|open)|submitting a comment|close comments|submission guidelines|endorse the "
    r"opinions expressed|^comments?$|^\d+ comments?$",
}
_LONGEST = {"comment-form": 200, "notice": 200}
_ANY_LINE_RE = {kind: re.compile(pattern, re.IGNORECASE) for kind, pattern in _ANY_LINE.items()}
# One search that most lines fail, before the search that says which kind matched.
_ANY_LINE_GATE = re.compile("|".join(f"(?:{p})" for p in _ANY_LINE.values()), re.IGNORECASE)

_ALWAYS = frozenset({"placeholder", "comment-form", "notice"})
_ATTRIBUTION = re.compile(
    r"\b(?:said|says|say|told|tells|according to|asked|asks|added|urged|urges|warned|warns|"
    r"announced|reported|wrote|writes)\b",
    re.IGNORECASE,
)
_AGENCIES = r"AFP|AP|Reuters|EPA|Getty(?: Images)?|AAP|PA|Xinhua|Anadolu|Bloomberg"
# A credit closing a caption line: "— AFP/VNA Photo", "(Photo: Reuters)", "[AFP]".
_CREDIT_TAIL = re.compile(
    rf"(?:[—–-]\s*|\(|\[)(?:(?i:photo|image|picture)s?\s*(?:(?i:credit)\s*)?[:/]\s*)?"
    rf"(?:{_AGENCIES}|VNA|SPA|WAM|PTI|ANI|[A-Z][a-z]+ [A-Z][a-z]+)"
    r"(?:/[A-Za-z]+){0,3}(?:\s+(?:Photos?|Images?|File))?(?:\s*[:/]\s*[^)\]]{0,40})?[)\]]?\s*$"
)
# Credits of a photo or video: they make a line a caption, sentence or not.
_CAPTION = re.compile(
    r"\((?i:photo|image|picture|video)s?(?:\s+(?i:credit))?\s*[:/]"
    r"|\b(?i:photo|image|picture)s?\s*(?i:credit|courtesy)\b"
    r"|\b(?i:photo|image|picture)s?\s*(?::|(?i:by))\s+[A-Z]"
    r"|\b(?:AFP|AP|Reuters|REUTERS|EPA|VNA|PTI|ANI|Xinhua|Getty|Shutterstock|Anadolu|IANS)"
    r"(?:/[A-Za-z]+(?: [A-Za-z]+)?){0,3}\s+(?:Photos?|Images?|File|Video)\b"
    r"|\bGetty Images\b|\b[Ff]ile (?:photo|picture|image)\b|\b(?:REUTERS|AFP|AP)/[A-Z][a-z]+"
    # A photographer's or agency's credit closing the line: "... [Reuters]", "(AAP: Name)".
    rf"|\[(?:{_AGENCIES})(?:[/:][^\]]{{0,60}})?\]\s*$|\((?:{_AGENCIES})\s*[:/]\s*[^)]{{1,60}}\)\s*$"
    # Who stands where in a picture: "(second right)", "(left)", "(centre, front)".
    r"|\((?:second |third |far )?(?:left|right|centre|center|front|back|top|bottom|middle)"
    r"(?:,? (?:front|back|top|bottom|left|right))?\)"
    # A line that describes a picture: "This aerial image shows ...", "In this photo ..."
    r"|\b(?:[Ii]mage|[Pp]hoto|[Pp]icture|[Pp]hotograph|[Vv]ideo)s? (?:shows?|taken)\b"
    r"|^(?:[Ii]n this (?:photo|image|picture)|[Pp]ictured\b)"
)
# A line that is only a credit: it makes the line before it a caption.
_CREDIT_ONLY = re.compile(
    r"^\(?(?:(?:image|photo|picture|video)s?(?: credit)?\s*[:/]?\s*)?[A-Z][\w.&'/ -]{0,40}\)?$"
    r"|^(?i:image|photo|picture|video)s?\s+(?i:from|by|via|courtesy of)\s+\S.{0,40}$"
)
# An agency's name alone on the line under a picture: its credit.
_AGENCY_ONLY = re.compile(
    r"^\(?(?:AFP|AP|Reuters|REUTERS|EPA|SPA|WAM|PTI|ANI|IANS|Xinhua|AAP|PA|Getty Images|"
    r"Bloomberg|Anadolu|dpa|EFE|UNI|Bernama)(?:/[A-Za-z]+)*\)?$"
)
_CREDIT_WORDS = re.compile(r"\b(?:image|photo|picture|video|credit|file)s?\b", re.IGNORECASE)

# Vocabulary of lines that are not sentences: labels of widgets, menus and teasers.
_SHARE = re.compile(
    r"\b(?:whatsapp|telegram|facebook|twitter|instagram|youtube|linkedin|pinterest|reddit|"
    r"short ?url|share (?:this|on|via|article|story)|^share$|tweet|follow us|email this|"
    r"copy link|print this|advertisement|click here|newsletter|sign up|subscribe|on air|"
    r"now playing|listen live|playlist|source link|live updates|live blog)\b",
    re.IGNORECASE,
)
_TEASER_LABEL = (
    r"^(?:also read|read (?:more|also)|more (?:from|on|stories|news)|related(?: articles?| "
    r"stories| news| coverage| content| posts?| topics?)?|recommended(?: for you)?|you (?:may|"
    r"might) (?:also )?like|see also|don'?t miss|trending(?: now| news)?|most (?:read|popular|"
    r"viewed|shared)|further reading|top stories|latest (?:news|stories)|(?:read|watch|listen)"
    r"(?: now)?|featured(?: stories| articles)?|next in \w+|more in \w+|editor'?s picks|"
    r"(?:stay|keep) informed)\b"
)
# A teaser: its label and a separator, then another story's headline.
_TEASER = re.compile(
    _TEASER_LABEL + r"\s*[:|\-–—>»]"
    # "OPINION | Inhumane decision ..." — a section label and a pipe: a teaser for another page.
    r"|^(?-i:[A-Z][A-Z &'-]{2,30})\s*\|\s+\S",
    re.IGNORECASE,
)
# A box of teasers starts with its label alone ("Most Read Nation & World Stories").
_TEASER_BOX = re.compile(_TEASER_LABEL, re.IGNORECASE)


def _words_of(text: str) -> frozenset[str]:
    return frozenset(text.split())


_MENU_WORDS = _words_of(
    "home news world sport sports business opinion opinions politics entertainment "
    "lifestyle life style tech technology science health video videos photos photo "
    "gallery weather markets market local national international region regions culture "
    "arts travel food education environment climate economy finance money cars auto autos "
    "jobs careers obituaries events podcasts podcast live tv radio games puzzles "
    "crossword horoscope latest trending more menu search login log sign subscribe "
    "account contact about us careers advertise newsletters epaper e-paper edition "
    "editions archive archives sections topics blogs blog features feature analysis "
    "columns column editorials editorial cartoons us uk asia africa europe americas "
    "middle east pacific india pakistan"
)
_LANGUAGES = _words_of(
    "english español espanol français francais deutsch italiano português portugues "
    "русский العربية 中文 日本語 한국어 हिन्दी हिंदी اردو فارسی türkçe urdu hindi arabic french "
    "spanish german chinese japanese russian bangla বাংলা"
)
_LABEL_WORDS = _words_of("photos photo story stories save breaking watch file exclusive")
_STOPWORDS = _words_of(
    "the a an of to in on for and or but is are was were be been has have had that this "
    "with as at by from it its their they he she his her we our you your not will would "
    "said says who which what when where than then there after before over about into "
    "more most"
)
_URL_ONLY = re.compile(r"^(?:https?://|www\.)\S+$|^\S+@\S+\.\w+$", re.IGNORECASE)
_READING_TIME = re.compile(
    r"^\d+\s*(?:min(?:ute)?s?|mins?)\.?\s*(?:read|watch|listen)?$"
    r"|^(?:estimated )?(?:read|reading) time\s*:?\s*[\d\s–-]+\s*(?:min(?:ute)?s?)?$",
    re.IGNORECASE,
)
_PRIVATE_USE = re.compile(r"[\ue000-\uf8ff]")
_ICON_NAME = re.compile(r"^[a-z]+(?:[_-][a-z0-9]+)+$")

# Dates and times, for timestamp lines and their metadata.
_MONTHS = {
    **dict.fromkeys(("jan", "january"), 1),
    **dict.fromkeys(("feb", "february"), 2),
    **dict.fromkeys(("mar", "march"), 3),
    **dict.fromkeys(("apr", "april"), 4),
    "may": 5,
    **dict.fromkeys(("jun", "june"), 6),
    **dict.fromkeys(("jul", "july"), 7),
    **dict.fromkeys(("aug", "august"), 8),
    **dict.fromkeys(("sep", "sept", "september"), 9),
    **dict.fromkeys(("oct", "october"), 10),
    **dict.fromkeys(("nov", "november"), 11),
    **dict.fromkeys(("dec", "december"), 12),
}
_WEEKDAYS = _words_of(
    "monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun "
    "noon midnight dawn dusk early late the"
)
_MONTH = "|".join(sorted(_MONTHS, key=len, reverse=True))
_TIME = r"\d{1,2}[:.]\d{2}(?:[:.]\d{2})?\s*(?:[ap]\.?\s?m\.?)?"
_DATE_PART = re.compile(
    rf"\b(?:{_MONTH})\b\.?|{_TIME}|\b\d{{4}}-\d{{2}}-\d{{2}}(?:T[\d:.]+Z?)?\b"
    r"|\b\d{1,4}(?:[/.-]\d{1,2}){0,2}(?:st|nd|rd|th)?\b"
    r"|\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday)?\b\.?"
    r"|\b(?:am|pm|a\.m\.|p\.m\.|ist|gmt|utc|bst|cet|cest|est|edt|cdt|pst|pdt|et|pt|pkt)\b",
    re.IGNORECASE,
)
_STAMP_WORD = re.compile(
    r"\b(?:updated?|published|posted|last|modified|first|on|at|created|date|time|ago|hours?|"
    r"minutes?|mins?|days?|yesterday|today|of|page)\b",
    re.IGNORECASE,
)
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_AGO = re.compile(r"\b\d+\s+(?:hours?|minutes?|mins?|days?)\s+ago\b", re.IGNORECASE)

_BY = re.compile(
    r"(?:^|[\s|,–—-])(?i:by|written by|reported by|reporting by|story by|posted by|text by|"
    r"words by)\s+(?P<names>[A-Z][\w.'’-]*(?:(?:\s+|\s*,\s*)(?:[A-Z][\w.'’-]*|and|&|de|van|"
    r"von|al|bin|el|da))*)"
)
# Lines that credit the story's makers: "By ...", "Reporting by ...", "Reuters Staff".
_CREDITS = re.compile(
    r"^\(?(?i:by|written by|reported by|reporting by|additional reporting by|story by|"
    r"posted by|text by|words by|editing by|writing by|compiled by)\s+[A-Z]"
    r"|^[A-Z][\w.&-]*(?: [A-Z][\w.&-]*)? (?:Staff|Correspondent|Reporter|Bureau|Desk|"
    r"News Desk|Web Desk)$"
)
# Words run together where a menu's links lost the spaces between them ("SolutionsLegal").
_RUN_TOGETHER = re.compile(r"[a-z]{2}[A-Z][a-z]")
_RUN_IN = re.compile(
    r"^(?P<name>(?:[A-Z][\w.'’-]*\s+){0,3}[A-Z][\w'’-]*?[a-z]{2})(?P<outlet>[A-Z]\w+.*)$"
)
_NAME = re.compile(r"^[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,2}$")
_BIO_VERB = re.compile(
    r"^\S+(?:\s+\S+)?\s+(?:has|is|was|covers|writes|reports|joined|worked|leads|edits)\b"
)


@dataclass(frozen=True)
class Cleaned:
    """One page's text cleaned: the lines of reporting, what was removed, the metadata."""

    lines: tuple[str, ...]
    removed: tuple[tuple[str, str], ...]  # (reason, line), in page order
    meta: Metadata


def clean(raw: str, known: Metadata | None = None) -> Cleaned:
    """The reporting in `raw`, line by line, with furniture removed and turned into metadata
    where it carries some; `known` (a web page's own metadata) takes precedence."""
    marked = _marked_lines(raw)
    lines = [line for line, _ in marked]
    page = _Page(lines, [m for _, m in marked])
    reasons = [page.furniture(i) for i in range(len(lines))]
    for i in range(len(lines)):
        if reasons[i] is None:
            reasons[i] = _within_block(i, lines, reasons)
    _spread_promotion(page, reasons)
    kept: list[str] = []
    seen: set[str] = set()
    removed: list[tuple[str, str]] = []
    for line, reason in zip(lines, reasons, strict=True):
        if reason is None and line in seen:
            reason = "repeat"  # the page printed it twice (a headline, a pull quote): once
        if reason is None:
            kept.append(line)
            seen.add(line)
        else:
            removed.append((reason, line))
    found = _metadata(removed)
    if page.headline is not None:
        title = Found(lines[page.headline], "headline line")
        found = Metadata(title=title).merged(found)
    return Cleaned(tuple(kept), tuple(removed), (known or Metadata()).merged(found))


def clean_lines(raw: str) -> list[str]:
    """The lines of `raw` that are article text, with page furniture removed."""
    return list(clean(raw).lines)


def normalised_lines(raw: str) -> list[str]:
    """The non-empty lines of `raw`, in one Unicode form, bullets, heading marks and spacing
    folded."""
    return [line for line, _ in _marked_lines(raw)]


def _marked_lines(raw: str) -> list[tuple[str, bool]]:
    """Each non-empty line, and whether the page marked it as a list item or a heading
    (a bullet, a Markdown `#`): the article's own structure, never a teaser or a label."""
    text = unicodedata.normalize("NFC", raw).replace("\u00a0", " ").replace("\r\n", "\n")
    out = []
    for line in text.replace("\r", "\n").split("\n"):
        marked = bool(_BULLET.match(line) or _HEADING.match(line))
        line = re.sub(r"[ \t\u200b]+", " ", _HEADING.sub("", _BULLET.sub("", line))).strip()
        if line:
            out.append((line, marked))
    return out


def _words(line: str) -> list[str]:
    return re.findall(r"[^\W\d_][\w'’.-]*", line)


def is_prose(line: str) -> bool:
    """Whether `line` reads as a sentence: several words, ending as a sentence does (or long
    and full of function words, as a sentence is)."""
    words = _words(line)
    if len(re.findall(r"\w+", line)) < 4 or len(words) < 3:
        return False
    if line.endswith(":") and len(words) < 6:
        return False  # "Menu:", "Also read:": a label, not a sentence
    if _TERMINAL.search(line):
        return True
    function = sum(w.lower() in _STOPWORDS for w in words)
    return len(words) >= 12 and function / len(words) >= 0.2


class _Page:
    """The lines of one page, and what each is like in its context."""

    def __init__(self, lines: Sequence[str], marked: Sequence[bool] = ()) -> None:
        self.lines = list(lines)
        self.counts = Counter(lines)
        self.line_set = set(lines)
        self.structured = self._lists(list(marked) or [False] * len(lines))
        self.prose = [is_prose(line) for line in lines]
        self._vocab: dict[int, str | None] = {}
        self.author: str | None = None
        self.in_box = self._boxes()
        self.in_run = self._section_runs()
        self.headline: int | None = None
        # The article is the run of prose from its first sentence to its last, not counting
        # sentences that are furniture by their words (a caption, a cookie notice).
        self.first, self.last = len(lines), -1
        body = [i for i, p in enumerate(self.prose) if p and self._raw_vocabulary(i) is None]
        if body:
            self.first, self.last = body[0], body[-1]
        # The headline: the first line of three words or more that does not end as a
        # sentence does (nor with a colon, which leads into what follows) and is not
        # furniture; at the latest, the article's first line.
        self.headline = next(
            (
                i
                for i in range(min(self.first + 1, len(lines)))
                if len(_words(self.lines[i])) >= 3
                and (len(_words(self.lines[i])) >= 4 or not _labels(self.lines[i]))
                and not _SENTENCE_END.search(self.lines[i])
                and not self.lines[i].rstrip().endswith(":")
                and self._vocabulary(i) is None
                and self._label(i) in (None, "repeat", "label")
            ),
            None,
        )

    def _boxes(self) -> list[bool]:
        """The lines of teaser boxes: after a label such as "Most Read" alone on its line,
        every line up to the next that ends as a sentence does (the article resuming)."""
        inside, box = False, []
        for line in self.lines:
            short = len(_words(line)) <= 8 and not _SENTENCE_END.search(line)
            if short and _TEASER_BOX.match(line):
                inside = True
            elif _SENTENCE_END.search(line):
                inside = False
            box.append(inside)
        return box

    def _lists(self, marked: list[bool]) -> list[bool]:
        """Lines that are the article's structure: marked by the page, or the short lines
        that follow a line ending in a colon ("The damage so far:") up to the next sentence."""
        out = list(marked)
        in_list = False
        for i, line in enumerate(self.lines):
            if in_list and not _SENTENCE_END.search(line):
                out[i] = True
            else:
                in_list = line.endswith(":") and len(_words(line)) >= 3
        return out

    def _section_runs(self) -> list[bool]:
        """Lists of other stories' headlines, each under its section's name ("World Thousands
        protest ...", "Tech Former analyst ..."): three or more lines in a row that open with
        two capitalised words, at least two of them with a section name first."""
        opens = [bool(re.match(r"^[A-Z][\w'’-]* [A-Z‘“'\"\d]", line)) for line in self.lines]
        section = [
            o and line.split()[0].lower() in _MENU_WORDS
            for o, line in zip(opens, self.lines, strict=True)
        ]
        marked = [False] * len(self.lines)
        i = 0
        while i < len(self.lines):
            j = i
            while j < len(self.lines) and opens[j]:
                j += 1
            if j - i >= 3 and sum(section[i:j]) >= 2:
                marked[i:j] = [True] * (j - i)
            i = max(j, i + 1)
        return marked

    def outside(self, i: int) -> bool:
        """Whether line `i` stands before or after the run of prose that is the article (on
        a page with no sentence at all, nothing does: there is nothing to be outside of)."""
        return self.last >= 0 and (i < self.first or i > self.last)

    def furniture(self, i: int) -> str | None:
        """Why line `i` is furniture, or None if it is reporting."""
        kind = self._vocabulary(i)
        if kind is not None:
            return kind
        if i == self.headline:
            return None  # kept once; a second copy is a repeat
        line = self.lines[i]
        if self.counts[line] > 1 and len(_words(line)) <= 8:
            return "repeat"  # a caption the page prints under each copy of its picture
        if self.in_run[i]:
            return "teaser"
        if self._credit_line(i):
            self._byline(i)
            return "byline"  # "Reporting by ...; Editing by ...": a credit, sentence or not
        if self.in_box[i]:
            return "teaser"
        if self.prose[i]:
            return "byline" if self._bio(i) else None
        return self._label(i)

    def _credit_line(self, i: int) -> bool:
        """ "By Jane Doe", "Reporting by ...; Editing by ...", "Reuters Staff" — but not "By
        Wednesday evening, the toll had risen to 13.", a sentence that opens with "By"."""
        line = self.lines[i]
        found = _CREDITS.match(line)
        if not found or len(_words(line)) > 30:
            return False
        after = line[found.end() - 1 :]
        first = after.split()[0].strip(",.;:").lower() if after.split() else ""
        if first in _MONTHS or first in _WEEKDAYS or first in _STOPWORDS:
            return False
        return not self.prose[i] or self.outside(i) or not _ATTRIBUTION.search(line)

    def _vocabulary(self, i: int) -> str | None:
        """Furniture by its words — except a sentence of the article that merely mentions
        them ("... violated its privacy policy, regulators said"): inside the article, a
        sentence counts only if it speaks to the reader and reports no one."""
        kind = self._raw_vocabulary(i)
        if kind is None or kind in _ALWAYS or not self.prose[i] or self.outside(i):
            return kind
        line = self.lines[i]
        if kind == "caption":
            return kind if _CREDIT_TAIL.search(line) else None
        speaks = _addresses_reader(line) and not _ATTRIBUTION.search(line)
        return kind if speaks else None

    def _raw_vocabulary(self, i: int) -> str | None:
        """Furniture by its words, whatever the line's shape or place."""
        if i not in self._vocab:
            self._vocab[i] = self._words_say(i)
        return self._vocab[i]

    def _words_say(self, i: int) -> str | None:
        line = self.lines[i]
        if _PLACEHOLDER.search(line):
            return "placeholder"
        length = len(_words(line))
        for kind, pattern in _ANY_LINE_RE.items() if _ANY_LINE_GATE.search(line) else ():
            # A long paragraph may mention cookies or copyright in passing; a comment policy
            # or an archive notice is furniture however long it runs.
            if length <= _LONGEST.get(kind, 60) and pattern.search(line):
                return kind
        if _CAPTION.search(line) or self._credit_follows(i):
            return "caption"
        if _TEASER.search(line) and (not self.prose[i] or ":" in line[:20] or "|" in line[:32]):
            return "teaser"
        return None

    def _label(self, i: int) -> str | None:
        """Why a line that is not a sentence is furniture, or None (a headline, a subhead)."""
        line = self.lines[i]
        words = _words(line)
        if _timestamp(line):
            return "timestamp"
        if self._byline(i):
            return "byline"
        checks = [
            ("link", bool(_URL_ONLY.match(line))),
            ("icon", _is_icon(line, words)),
            ("language-menu", sum(w.lower() in _LANGUAGES for w in line.split()) >= 2),
            ("timestamp", bool(_READING_TIME.match(line))),
            ("share", bool(_SHARE.search(line))),
            ("navigation", self._navigation(i, words)),
        ]
        for kind, hit in checks:
            if hit:
                return kind
        if self.counts[line] > 1:
            return "repeat"  # a caption or label the layout prints more than once
        if self.structured[i]:
            return None  # a list item or a heading of the article: its own words
        if len(re.findall(r"\w+", line)) <= 1 and not line.endswith(":"):
            return "label"  # "Welcome!", "Swipe.", "2.": a word of a widget, a counter
        short_claim = bool(_SENTENCE_END.search(line) and re.search(r"\d", line))
        if self.outside(i) and len(words) < 4 and not _FACT.match(line) and not short_claim:
            # The outlet's name, a section name, a lone word of a widget — not a short
            # sentence that states a number ("500 went home.").
            return "label"
        if not self.outside(i) and len(words) >= 6 and sum(self.prose[self.first : i]) >= 2:
            # Too long for a subheading and not a sentence, past the article's opening (where
            # it would be a dek): the headline of another story, linked from inside this one.
            # Dropping it costs no claim; keeping it would let another story's figure pass as
            # this one's.
            return "teaser"
        return None

    def _credit_follows(self, i: int) -> bool:
        """Whether the next line is only a photo credit, making this line its caption."""
        if i + 1 >= len(self.lines) or len(_words(self.lines[i])) > 40:
            return False
        after = self.lines[i + 1]
        credit = _CREDIT_ONLY.match(after) and _CREDIT_WORDS.search(after)
        return bool(credit or _AGENCY_ONLY.match(after))

    def _byline(self, i: int) -> bool:
        line = self.lines[i]
        words = _words(line)
        if len(words) > 20:
            return False
        found = _BY.search(line)
        if found:
            self.author = self.author or found["names"].strip(" ,&")
            return True
        if len(words) > 8:
            return False
        if _NAME.match(line) and not _labels(line) and i != self.headline:
            # A name alone under the headline, or beside its timestamp: its author. (A short
            # headline of capitalised words is a name's shape too, so place decides.)
            beside = [self.lines[j] for j in (i - 1, i + 1) if 0 <= j < len(self.lines)]
            under = self.headline is not None and i == self.headline + 1
            if under or any(_timestamp(b) for b in beside):
                self.author = self.author or line
                return True
        if not self.outside(i):
            return False
        run_in = _RUN_IN.match(line)
        if run_in and len(words) <= 6:
            self.author = self.author or run_in["name"]
            return True
        name, _, rest = line.partition(",")
        credit = [w for w in _words(rest) if w.lower() in _OUTLET_WORDS | _ROLE_WORDS]
        if credit and _NAME.match(name.strip()) and all(w[0].isupper() for w in _words(rest)):
            self.author = self.author or name.strip()  # "Peter Weber, The Week US"
            return True
        return False

    def _bio(self, i: int) -> bool:
        """An author's biography after the article: it begins with the byline's name."""
        if self.author is None or (i <= self.last - 1 and not self.outside(i)):
            return False
        line = self.lines[i]
        names = [n for n in re.split(r"\s+", self.author) if len(n) > 1]
        return bool(names) and line.split()[0] in names and bool(_BIO_VERB.match(line))

    def _navigation(self, i: int, words: Sequence[str]) -> bool:
        line = self.lines[i]
        # A breadcrumb trail ends with the headline that also stands on its own line.
        spaces = [m.start() for m in re.finditer(" ", line)]
        if any(line[at + 1 :] in self.line_set for at in spaces):
            return True
        if len(_RUN_TOGETHER.findall(line)) >= 2:
            return True
        parts = [p for p in re.split(r"\s*[›»>/|·•]\s*", line) if p]
        if len(parts) >= 3 and all(len(_words(p)) <= 3 for p in parts):
            return True
        menu = sum(w.lower().strip(".") in _MENU_WORDS for w in words)
        return len(words) >= 3 and menu / len(words) >= 0.6


def _spread_promotion(page: _Page, reasons: list[str | None]) -> None:
    """The outlet talking to its reader ("Your support makes all the difference.", "We
    believe quality journalism should be free"): a line that addresses the reader or speaks
    as "we" outside any quotation, next to such furniture or outside the article, is more of
    it. Reporting speaks of others and quotes its "you" and "we"."""
    changed = True
    while changed:
        changed = False
        for i, line in enumerate(page.lines):
            if reasons[i] is not None or i == page.headline or not _addresses_reader(line):
                continue
            near = [reasons[j] for j in (i - 1, i + 1) if 0 <= j < len(reasons)]
            # Inside the article only a subscription or newsletter box pitches to the reader,
            # and only in words no one is reported saying.
            inside = page.prose[i] and not page.outside(i)
            kinds = _SALES if inside else _PROMOTIONAL
            if inside and _ATTRIBUTION.search(line):
                continue
            if (not inside and page.outside(i)) or any(r in kinds for r in near):
                reasons[i] = "promo"
                changed = True


_PROMOTIONAL = frozenset(
    {"paywall", "newsletter", "promo", "app-promo", "share", "cookie", "comment-form"}
)
_IMPERATIVE = re.compile(
    r"^(?:subscribe|sign (?:up|in)|log ?in|register|download|follow|share|click|tap|join|"
    r"read|watch|listen|get|stay|enter|continue|don'?t miss)\b",
    re.IGNORECASE,
)
_SALES = frozenset({"paywall", "newsletter"})
_READER = re.compile(r"\b(?:you|your|yours|we|our|us)\b", re.IGNORECASE)


def _addresses_reader(line: str) -> bool:
    """Whether `line` speaks to the reader or as "we" in its own words, not in a quotation
    (a paragraph that opens with a quotation mark is quoted to its end)."""
    if line[:1] in "“\"‘'":
        return False
    if _IMPERATIVE.match(line):
        return True  # "Subscribe now to continue reading.": an order to the reader
    unquoted = re.sub(r"[“\"][^”\"]*[”\"]|‘[^’]*’", "", line)
    return len(_words(line)) <= 45 and bool(_READER.search(unquoted))


def _within_block(i: int, lines: Sequence[str], reasons: Sequence[str | None]) -> str | None:
    """The kind of a block of notices a short line stands inside (a comment policy, a
    subscription box): a line between two lines of one such kind is one more of them."""
    if not 0 < i < len(lines) - 1 or len(_words(lines[i])) > 60:
        return None
    before, after = reasons[i - 1], reasons[i + 1]
    return before if before == after and before in _BLOCKS else None


_BLOCKS = frozenset({"comment-form", "paywall", "newsletter", "cookie", "notice"})


def _labels(line: str) -> bool:
    """Whether `line` holds words of site labels ("Breaking News", "Save Story"): not a name."""
    return any(w.lower() in _MENU_WORDS or w.lower() in _LABEL_WORDS for w in _words(line))


def _is_icon(line: str, words: Sequence[str]) -> bool:
    """Icon-font names and symbol strings: no words a reader reads."""
    if _PRIVATE_USE.search(line):
        return True
    if words and all(_ICON_NAME.match(w) for w in line.split()):
        return True
    visible = [c for c in line if not c.isspace()]
    wordy = sum(c.isalnum() for c in visible)
    return bool(visible) and wordy / len(visible) < 0.3


def _timestamp(line: str) -> bool:
    """Whether `line` is only a date or time, perhaps labelled ("Updated: ...")."""
    dated = _YEAR.search(line) or _AGO.search(line) or re.search(_TIME, line)
    if not dated and not re.search(rf"\b(?:{_MONTH})\b", line, re.IGNORECASE):
        return False
    rest = _STAMP_WORD.sub(" ", _DATE_PART.sub(" ", line))
    full = iso_date(line)
    return len(_words(rest)) <= (2 if full and len(full) == 10 else 1)


def iso_date(text: str) -> str | None:
    """The date a timestamp states, as ISO at its precision (2016, 2016-08, 2016-08-16);
    None for no date, or for one that is no real date (2016-13-45, 31 February) or lies in
    the future — a page's wrong date must not become the article's."""
    found = _date_parts(text)
    if found is None:
        return None
    year, month, day = found
    try:
        when = datetime.date(year, month or 1, day or 1)
    except ValueError:
        return None
    if not year >= 1900 or when > datetime.date.today() + datetime.timedelta(days=1):
        return None
    return f"{year:04d}" + (f"-{month:02d}" if month else "") + (f"-{day:02d}" if day else "")


def _date_parts(text: str) -> tuple[int, int | None, int | None] | None:
    if m := re.search(r"\b((?:19|20)\d\d)-(\d\d)-(\d\d)(?!\d)", text):
        return int(m[1]), int(m[2]), int(m[3])
    year = _YEAR.search(text)
    if year is None:
        return None
    month_match = re.search(rf"\b({_MONTH})\b", text, re.IGNORECASE)
    if month_match is None:
        numeric = re.search(r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d\d)\b", text)
        if numeric and int(numeric[1]) > 12 >= int(numeric[2]):  # day first, unambiguous
            return int(numeric[3]), int(numeric[2]), int(numeric[1])
        if numeric and int(numeric[2]) > 12 >= int(numeric[1]):  # month first
            return int(numeric[3]), int(numeric[1]), int(numeric[2])
        return int(year[0]), None, None
    month = _MONTHS[month_match[1].lower()]
    # The day stands next to the month name, before or after it; never a time or the year.
    untimed = re.sub(_TIME, " ", text)
    near = untimed[max(0, month_match.start() - 12) : month_match.end() + 8]
    day = next((int(d) for d in re.findall(r"\b(\d{1,2})(?:st|nd|rd|th)?\b", near)), None)
    return int(year[0]), month, day if day is not None and 1 <= day <= 31 else None


_ROLE_WORDS = _words_of(
    "staff correspondent reporter editor writer columnist contributor bureau desk us uk"
)
_OUTLET_WORDS = _words_of(
    "news times post press herald tribune journal media associated reuters ap afp network "
    "channel tv radio daily gazette telegraph guardian express star online agency wire"
)


def _names_and_outlet(names: str) -> tuple[str, str | None]:
    """ "Jane Doe, Example News" → ("Jane Doe", "Example News"): the parts of a byline that are
    an outlet's name rather than a person's."""
    parts = [p.strip(" ,&") for p in re.split(r",\s*", names) if p.strip(" ,&")]
    people = [p for p in parts if not any(w.lower() in _OUTLET_WORDS for w in p.split())]
    outlets = [p for p in parts if p not in people]
    return ", ".join(people) or names.strip(" ,&"), (outlets[0] if outlets else None)


_PUBLISHED = re.compile(r"\b(?:published|posted|first published|created)\b", re.IGNORECASE)


def _metadata(removed: Sequence[tuple[str, str]]) -> Metadata:
    """Dates and bylines the removed lines carried. The date: one labelled "Published" or
    "Posted", else the earliest stated — an update comes after the article, and a page's
    own date of printing (a site header's "today") after both."""
    # "Published Aug 14 | Updated Aug 16": each labelled part is a stamp of its own.
    stamps = [
        part
        for reason, line in removed
        if reason == "timestamp"
        for part in re.split(r"\s+[|·•]\s+", line)
    ]
    dated = [(not _PUBLISHED.search(s), d) for s in stamps if (d := iso_date(s))]
    date = min(dated)[1] if dated else None
    byline = outlet = None
    for reason, line in removed:
        if reason != "byline" or byline is not None:
            continue
        if found := _BY.search(line):
            byline, outlet = _names_and_outlet(found["names"])
            head = re.split(r"\s+[-–—|]\s+", line)[0].strip()
            if not outlet and head and not _BY.search(" " + head) and len(_words(head)) <= 5:
                outlet = head
        elif run_in := _RUN_IN.match(line):
            byline, outlet = run_in["name"], run_in["outlet"]
        else:
            name, _, rest = line.partition(",")
            byline, outlet = name.strip(), rest.strip() or None
    source = "byline line"
    return Metadata(
        date=Found(date, "timestamp line") if date else None,
        byline=Found(byline, source) if byline else None,
        outlet=Found(outlet, source) if outlet else None,
    )
