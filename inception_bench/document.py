"""A small structured document (sections of paragraphs, bullet lists, tables and images) rendered to Markdown
and to one self-contained HTML page from the same data: ``ibench count --format markdown`` and ``ibench report``
build one, and neither renderer parses the other's output.

Text may use two inline marks, rendered by both: ``**bold**`` and ```code```. The HTML page embeds images as
base64 PNG, sorts tables on a click with a few lines of inline JavaScript, and loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field


@dataclass
class Paragraph:
    text: str


@dataclass
class Bullets:
    items: list[str]


@dataclass
class Table:
    """``align``: one of ``"l"``/``"r"`` per column (Markdown's ``---`` / ``---:``); left when not given."""

    header: list[str]
    rows: list[list[str]]
    align: str = ""


@dataclass
class Image:
    """A PNG written next to the Markdown file as ``name`` and embedded in the HTML page."""

    name: str
    png: bytes


Block = Paragraph | Bullets | Table | Image


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)

    @property
    def images(self) -> list[Image]:
        return [b for b in self.blocks if isinstance(b, Image)]


# ------------------------------------------------------------------------------------------------- Markdown
def _md_row(cells: list[str]) -> str:
    return "|" + "".join(f" {c} |" if c else " |" for c in cells)


def markdown_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        align = block.align or "l" * len(block.header)
        rule = "|" + "".join("---:|" if a == "r" else "---|" for a in align)
        return "\n".join([_md_row(block.header), rule, *(_md_row(r) for r in block.rows)])
    return f"![{block.name}]({block.name})"


def to_markdown(title: str, blocks: list[Block], sections: list[Section] | None = None) -> str:
    """``# title``, then ``blocks``, then each section as ``## title`` and its blocks; blank lines between."""
    parts = [f"# {title}", *(markdown_block(b) for b in blocks)]
    for s in sections or []:
        parts += [f"## {s.title}", *(markdown_block(b) for b in s.blocks)]
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------------------------- HTML
_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.88em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f2f2f2;cursor:pointer}
td:first-child,th:first-child,td.t{text-align:left}img{max-width:100%;height:auto}code{background:#f4f4f4}
.imgs img{display:block;width:100%;max-width:900px;margin:1em 0}"""
_JS = """document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.dir==='a'?-1:1;th.dataset.dir=d>0?'a':'d';
function v(x){var s=x.cells[i].textContent.replace(/[,%*KMG]|\u00b1.*$|\\s\\[.*$/g,'').trim();
var n=parseFloat(s);return isNaN(n)?s:n}
r.sort(function(x,y){var a=v(x),c=v(y);return (a>c?1:a<c?-1:0)*d});r.forEach(function(x){b.appendChild(x)})})});"""
_NUMERIC = re.compile(r"^[-+]?[\d.,]+[%KMGx]?( \+- [\d.]+)?$|^[-+][\d.]+ \[")


def inline_html(text: str) -> str:
    """Escaped text with the two inline marks (``**bold**``, ```code```) as HTML."""
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cell(value: str) -> str:
    numeric = _NUMERIC.match(value.replace("**", "")) is not None
    style = "" if numeric or not value else " class='t'"
    return f"<td{style}>{inline_html(value).replace(' +- ', ' &plusmn; ')}</td>"


def html_block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{inline_html(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline_html(item)}</li>" for item in block.items) + "</ul>"
    if isinstance(block, Table):
        head = "".join(f"<th>{inline_html(h)}</th>" for h in block.header)
        body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in block.rows)
        return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    data = base64.b64encode(block.png).decode()
    return f"<img alt='{html.escape(block.name)}' src='data:image/png;base64,{data}'>"


def _html_blocks(blocks: list[Block]) -> list[str]:
    """Blocks as HTML, with each run of consecutive images in one flowing row."""
    out: list[str] = []
    for i, block in enumerate(blocks):
        if isinstance(block, Image) and i and isinstance(blocks[i - 1], Image):
            out[-1] = out[-1].removesuffix("</div>") + html_block(block) + "</div>"
        elif isinstance(block, Image):
            out.append(f"<div class='imgs'>{html_block(block)}</div>")
        else:
            out.append(html_block(block))
    return out


def to_html(title: str, blocks: list[Block], sections: list[Section] | None = None) -> str:
    """One self-contained page: the same content as :func:`to_markdown`."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        *_html_blocks(blocks),
    ]
    for s in sections or []:
        parts += [f"<h2>{inline_html(s.title)}</h2>", *_html_blocks(s.blocks)]
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)
