"""Markdown and JSON renderings of a resolved `Document`. Pure functions: same input, same bytes."""

from __future__ import annotations

import re
from collections.abc import Sequence

from briefgen._document import (
    Citation,
    DocArticle,
    DocEvent,
    DocFigure,
    DocPosition,
    Document,
)

_RELATION_LABEL = {
    "consistent": "consistent",
    "conflicting": "⚠ conflicting",
    "timeline": "time series",
    "internal_discrepancy": "⚠ internal discrepancy",
}


def to_json(document: Document) -> str:
    return document.model_dump_json(indent=2) + "\n"


class _Footnotes:
    """Numbers each distinct set of cited sentences once, in order of first use."""

    def __init__(self) -> None:
        self.notes: dict[tuple[tuple[str, int, str], ...], int] = {}

    def ref(self, citations: Sequence[Citation]) -> str:
        key = tuple((c.file, c.sentence, c.text) for c in citations)
        if not key:
            return ""
        number = self.notes.setdefault(key, len(self.notes) + 1)
        return f"[^{number}]"

    def render(self) -> list[str]:
        lines = []
        for key, number in self.notes.items():
            parts = [f"{_code(f'{file}:{span}')} “{_md(text)}”" for file, span, text in _spans(key)]
            lines.append(f"[^{number}]: " + " · ".join(parts))
        return lines


def _spans(cited: Sequence[tuple[str, int, str]]) -> list[tuple[str, str, str]]:
    """Cited sentences with runs of consecutive sentences of one file joined into one span
    (`S3–S4`), so a quotation that runs over sentences is shown whole, its marks balanced."""
    runs: list[list[tuple[str, int, str]]] = []
    files = list(dict.fromkeys(c[0] for c in cited))  # files in order of first citation
    for item in sorted(set(cited), key=lambda c: (files.index(c[0]), c[1])):
        last = runs[-1][-1] if runs else None
        if last is not None and last[0] == item[0] and last[1] + 1 == item[1]:
            runs[-1].append(item)
        else:
            runs.append([item])
    out = []
    for run in runs:
        start, end = run[0][1], run[-1][1]
        span = f"S{start}" if start == end else f"S{start}–S{end}"
        out.append((run[0][0], span, " ".join(text for _, _, text in run)))
    return out


# Every string a model or an article wrote is data: these helpers are the only way it
# reaches the Markdown. CommonMark lets any ASCII punctuation be backslash-escaped; only
# what can open markup is, so ordinary prose (- ' ’ “ , ( ) .) comes out unchanged.
_MARKUP = re.compile(r"[\\`*_\[\]<>|&~]")
# Bare URLs that GitHub-flavoured renderers would turn into links.
_BARE_LINK = re.compile(r"(?i)(?<=[a-z])(?=://)|(?<=\bwww)(?=\.)")
# What turns a line into a heading, quote, list item, rule or setext underline.
_BLOCK_START = re.compile(r"^(?:([#>+=-])|(\d{1,9})([.)])(?=\s|$))")


def _md(text: str) -> str:
    """`text` as literal Markdown inside a line or a table cell: no markup survives."""
    flat = re.sub(r"\s+", " ", text).strip()
    return _BARE_LINK.sub("\\\\", _MARKUP.sub(lambda m: "\\" + m[0], flat))


def _line(text: str) -> str:
    """`text` as literal Markdown standing at the start of a line."""
    return _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", _md(text))


def _code(text: str) -> str:
    """`text` as an inline code span whose fence no backtick in it can close."""
    flat = re.sub(r"\s+", " ", text).strip()
    fence = "`" * (max((len(run) for run in re.findall("`+", flat)), default=0) + 1)
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{fence}{pad}{flat}{pad}{fence}"


def _value(f: DocFigure) -> str:
    return f"{f.qualifier} {f.value}" if f.qualifier else f.value


def to_markdown(doc: Document) -> str:
    """The brief as Markdown: sections in a fixed order, footnotes numbered by first use."""
    notes = _Footnotes()
    out: list[str] = [f"# Brief: {len(doc.articles)} articles", ""]
    out += ["## Overview", "", _line(doc.corpus.overview) or "_No verified overview._", ""]
    out += _not_read(doc)
    out += _figures(doc, notes)
    out += _timeline(doc)
    out += _actors(doc)
    out += _positions(doc, notes)
    out += _disputes(doc, notes)
    out += _articles(doc, notes)
    out += ["## Sources", ""]
    out += [f"- {_md(a.id)}: {_code(a.file)} (sha256 {a.sha256[:12]})" for a in doc.articles]
    out += ["", *notes.render(), ""]
    v = doc.verification
    out += [
        "## Verification",
        "",
        f"Verification: {v.verified} items verified, {len(v.dropped)} dropped.",
    ]
    if v.dropped:  # what failed is never printed in the brief, not even as a dropped item
        out += ["", "Dropped items and why: `--verbose`, or `verification` in `--format json`."]
    return "\n".join(out).rstrip() + "\n"


def _not_read(doc: Document) -> list[str]:
    """What the brief lacks: articles that could not be read, corpus calls not answered."""
    if not doc.failed and not doc.incomplete:
        return []
    out = []
    if doc.failed:
        out += ["## Articles that could not be read", ""]
        out += [f"- {_md(f.id)}: {_code(f.file)} — {_md(f.reason)}" for f in doc.failed]
        out += ["", "_Nothing from these articles is in this brief._", ""]
    if doc.incomplete:
        out += ["## Synthesis incomplete", ""]
        out += ["The cross-article sections lack what these calls would have added:", ""]
        out += [f"- {_md(failure)}" for failure in doc.incomplete]
        out.append("")
    return out


def _figure_rows(figures: Sequence[DocFigure], notes: _Footnotes) -> list[str]:
    rows = ["| Value | Measures | As of | Source |", "| --- | --- | --- | --- |"]
    rows += [
        f"| {_md(_value(f))} | {_md(f.measures)} | {_md(f.as_of or '—')} | "
        f"{_where(f.citations)} {notes.ref(f.citations)} |"
        for f in figures
    ]
    return [*rows, ""]


def _where(citations: Sequence[Citation]) -> str:
    """`001:S1` style short references, beside the footnote."""
    return ", ".join(f"{_md(c.article)}:S{c.sentence}" for c in citations)


def _figures(doc: Document, notes: _Footnotes) -> list[str]:
    figures = {f.id: f for a in doc.articles for f in a.figures}
    out = ["## Key figures", ""]
    grouped: set[str] = set()
    for group in doc.corpus.figure_groups:
        label = _RELATION_LABEL[group.relation]
        if group.within_rounding:
            label = f"consistent within rounding ({_md(group.spread or '')})"
        out += [f"### {_md(group.metric)} — {label}", ""]
        if group.note:
            out += [f"_{_md(group.note)}_", ""]
        out += _figure_rows([figures[i] for i in group.members], notes)
        grouped.update(group.members)
    if doc.corpus.breakdowns:
        out += ["### Totals and their parts", ""]
        for b in doc.corpus.breakdowns:
            total = figures[b.total]
            parts = " + ".join(_md(_value(figures[p])) for p in b.parts)
            cited = _where(
                list(
                    {
                        (c.article, c.sentence): c for p in b.parts for c in figures[p].citations
                    }.values()
                )
            )
            gap = f", by {_md(b.difference)}" if b.difference else ""
            out.append(
                f"- {_md(_value(total))} {_md(total.unit)} ({_where(total.citations)}) = "
                f"{parts} ({cited}): the parts add to {_md(b.sum)}, which {b.verdict}{gap}."
            )
        out.append("")
    rest = [f for f in figures.values() if f.id not in grouped]
    if rest:
        out += ["### Other figures", "", *_figure_rows(rest, notes)]
    return out


def _timeline(doc: Document) -> list[str]:
    events = doc.corpus.timeline
    if not events:
        return ["## Timeline", "", "_No dated events verified._", ""]
    by_period: dict[str, list[str]] = {}
    for e in events:
        by_period.setdefault(_mermaid(_when(e)), []).append(_mermaid(e.event))
    out = ["## Timeline", "", "```mermaid", "timeline"]
    out += [f"    {period} : {' : '.join(texts)}" for period, texts in by_period.items()]
    out += ["```", ""]
    out += [f"- **{_md(_when(e))}** — {_md(e.event)} ({_md(', '.join(e.sources))})" for e in events]
    notes = []
    if any(e.series for e in events):
        notes.append("values of a figure time series are placed at their as-of dates")
    if any(e.inferred for e in events):
        notes.append("(inferred): placed by an article's inferred publication date")
    if notes:
        out += ["", f"_{'; '.join(notes).capitalize()}._"]
    return [*out, ""]


def _when(event: DocEvent) -> str:
    """The event's date as the brief shows it: a year alone says the month is unknown."""
    notes = ["month unknown"] if len(event.date) == 4 else []
    notes += ["inferred"] if event.inferred else []
    return f"{event.date} ({', '.join(notes)})" if notes else event.date


def _actors(doc: Document) -> list[str]:
    out = ["## Actors", "", "| Actor | Also called | Articles |", "| --- | --- | --- |"]
    for group in doc.corpus.actors:
        articles = _md(", ".join(sorted({m.split(".")[0] for m in group.members})))
        out.append(f"| {_md(group.name)} | {_md(', '.join(group.aliases)) or '—'} | {articles} |")
    return [*out, ""]


def _quoted(p: DocPosition) -> str:
    return f"{_md(p.stance)} “{_md(p.quote)}”" if p.quote else _md(p.stance)


def _holders(doc: Document) -> dict[str, str]:
    """Each position id → the name of the actor group that holds it (or the name given)."""
    group_of = {m: g.name for g in doc.corpus.actors for m in g.members}
    by_name = {n.casefold(): g.name for g in doc.corpus.actors for n in (g.name, *g.aliases)}
    holders = {}
    for a in doc.articles:
        own = {n.casefold(): actor.id for actor in a.actors for n in (actor.name, *actor.aliases)}
        for p in a.positions:
            key = p.actor.casefold()
            actor_id = own.get(key)
            holders[p.id] = group_of.get(actor_id or "") or by_name.get(key) or p.actor
    return holders


def _positions(doc: Document, notes: _Footnotes) -> list[str]:
    """Actors by issue, each cell the stances with their sources; then any position the
    corpus step put under no issue."""
    positions = {p.id: p for a in doc.articles for p in a.positions}
    holders = _holders(doc)
    issues = doc.corpus.issues
    out = ["## Positions", ""]
    cells: dict[str, dict[int, list[str]]] = {}
    for g in doc.corpus.actors:  # rows in the order of the actors section
        cells[g.name] = {}
    for column, issue in enumerate(issues):
        for pid in issue.positions:
            p = positions[pid]
            cell = f"{_md(p.stance)} ({_where(p.citations)}) {notes.ref(p.citations)}"
            cells.setdefault(holders[pid], {}).setdefault(column, []).append(cell)
    if issues:
        out.append("| Actor | " + " | ".join(_md(i.issue) for i in issues) + " |")
        out.append("| --- |" + " --- |" * len(issues))
        for actor, row in cells.items():
            if row:
                texts = ["<br>".join(row.get(c, [])) or "—" for c in range(len(issues))]
                out.append(f"| {_md(actor)} | " + " | ".join(texts) + " |")
        out.append("")
    covered = {pid for i in issues for pid in i.positions}
    rest = [p for p in positions.values() if p.id not in covered]
    if rest:
        out += ["### Other positions", ""] if issues else []
        out += ["| Actor | Issue | Stance | Source |", "| --- | --- | --- | --- |"]
        out += [
            f"| {_md(holders[p.id])} | {_md(p.issue)} | {_quoted(p)} | "
            f"{_where(p.citations)} {notes.ref(p.citations)} |"
            for p in rest
        ]
        out.append("")
    return out


def _disputes(doc: Document, notes: _Footnotes) -> list[str]:
    positions = {p.id: p for a in doc.articles for p in a.positions}
    out = ["## Open disputes", ""]
    for dispute in doc.corpus.disputes:
        out += [f"### {_md(dispute.topic)}", ""]
        for side in dispute.sides:
            out.append(f"- **{_md(side.label)}**")
            for pid in side.positions:
                p = positions[pid]
                out.append(
                    f"  - {_md(p.actor)}: {_quoted(p)} "
                    f"({_where(p.citations)}) {notes.ref(p.citations)}"
                )
        if dispute.settle:
            out.append(f"- _What would settle it:_ {_md(dispute.settle)}")
        out.append("")
    if not doc.corpus.disputes:
        out += ["_No open disputes verified._", ""]
    return out


def _articles(doc: Document, notes: _Footnotes) -> list[str]:
    out = ["## Per-article notes", ""]
    for a in doc.articles:
        date = _md(a.published.date or "date unknown")
        if a.published.inferred:
            date += f" ({'inferred: ' if a.published.date else ''}{_md(a.published.basis)})"
        out += [f"### {_md(a.id)}: {_md(a.title)}", "", " · ".join(_page(a, date)), ""]
        if a.instructions:
            where = ", ".join(f"S{i}" for i in a.instructions)
            out += [
                f"⚠ {where} of this article reads as an instruction to AI systems, not as "
                "reporting. It was shown to the model marked as such; nothing citing it was kept.",
                "",
            ]
        if a.summary:
            out += [_line(a.summary), ""]
        for d in a.disputes:
            sides = "; ".join(
                f"{_md(s.actor)}: {_md(s.claim)} {notes.ref(s.citations)}" for s in d.sides
            )
            out.append(f"- Disputed — {_md(d.topic)}: {sides}")
        if a.disputes:
            out.append("")
    return out


# Mermaid reads `:` as an event separator, `#` as an entity and `;` as a statement end; a
# label may be drawn as HTML, so nothing that opens a tag, an entity or a code fence stays.
_MERMAID = str.maketrans({":": ",", "#": ",", ";": ",", "<": "‹", ">": "›", "&": "＆", "`": "'"})


def _page(a: DocArticle, date: str) -> list[str]:
    """The file, outlet, byline and date of an article, each with where it was found."""
    parts = [_code(a.file)]
    if a.meta.outlet:
        parts.append(f"{_md(a.meta.outlet.value)} ({_md(a.meta.outlet.source)})")
    if a.meta.byline:
        parts.append(f"by {_md(a.meta.byline.value)} ({_md(a.meta.byline.source)})")
    if a.meta.date:
        parts.append(f"published {_md(a.meta.date.value)} ({_md(a.meta.date.source)})")
    else:
        parts.append(date)
    return parts


def _mermaid(text: str) -> str:
    """`text` as a Mermaid timeline label inside the ```mermaid fence."""
    return re.sub(r"\s+", " ", text).strip().replace(": ", " — ").translate(_MERMAID)
