"""The HTML of `seqlab report`: escaped text, tables, embedded pictures, one page.

Everything a page needs travels inside it: the style sheet is a <style> element, every picture a
base64 `data:` URI, and there is no script at all. Every piece of text that comes from a run
(names, config values, samples) goes through `esc`.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

NUMBER = re.compile(r"[-+]?[\d.,]+(e[-+]?\d+)?( ?[kMGTP])?%?( \[[-+\d.e, ]+\])?|\[[-+\d.e, ]+\]|-")
"""A cell that is a number (1,234 / 0.51 / 12.3 G / 0.45 [0.43, 0.46] / [0.1, 0.2]) or empty (-):
right-aligned."""

STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto; max-width: 1200px;
       padding: 0 1em; color: #1d1d1f; background: #fff; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: .2em; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
table { border-collapse: collapse; margin: .6em 0; font-size: 13px; }
caption { text-align: left; color: #555; padding-bottom: .3em; }
th, td { border: 1px solid #ddd; padding: 3px 8px; vertical-align: top; }
th { background: #f4f4f6; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.flagged td { background: #fff6e0; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 1em; }
dl.facts dt { color: #555; }
dl.facts dd { margin: 0; }
div.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(480px, 1fr)); gap: 1em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
pre { background: #f7f7f9; border: 1px solid #e4e4e8; padding: .6em; white-space: pre-wrap;
      word-break: break-all; font-size: 12px; }
.note { color: #666; font-size: 13px; }
"""


def esc(value: object) -> str:
    """Any value as HTML text: `<`, `>`, `&` and both quotes escaped."""
    return html.escape(str(value), quote=True)


def table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str | None = None,
          flagged: Sequence[bool] | None = None, table_id: str | None = None) -> str:
    """A <table>: the header row, one <tr> per row (numbers right-aligned); a row whose `flagged`
    entry is true is highlighted."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    lines = [f'<table id="{esc(table_id)}">' if table_id else "<table>"]
    if caption:
        lines.append(f"<caption>{esc(caption)}</caption>")
    lines.append(f"<thead><tr>{head}</tr></thead><tbody>")
    for i, row in enumerate(rows):
        mark = ' class="flagged"' if flagged and flagged[i] else ""
        cells = "".join(f'<td class="num">{esc(c)}</td>' if NUMBER.fullmatch(str(c)) else f"<td>{esc(c)}</td>"
                        for c in row)
        lines.append(f"<tr{mark}>{cells}</tr>")
    lines.append("</tbody></table>")
    return "\n".join(lines)


def facts(pairs: Sequence[tuple[str, str]]) -> str:
    """A two-column list of `name: value` facts."""
    items = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in pairs)
    return f'<dl class="facts">{items}</dl>'


def image(png: bytes, alt: str, caption: str | None = None) -> str:
    """A PNG embedded in the page as a data: URI, in a <figure> with an optional caption."""
    data = base64.b64encode(png).decode("ascii")
    below = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{data}">{below}</figure>'


def figures(items: Sequence[str]) -> str:
    """Figures side by side, as many to a row as the window is wide enough for."""
    return '<div class="figures">' + "\n".join(items) + "</div>"


def preformatted(text: str) -> str:
    return f"<pre>{esc(text)}</pre>"


def paragraph(text: str, note: bool = False) -> str:
    mark = ' class="note"' if note else ""
    return f"<p{mark}>{esc(text)}</p>"


def section(title: str, body: str, section_id: str) -> str:
    """One titled part of the page, with an id a link can point at."""
    return f'<section id="{esc(section_id)}">\n<h2>{esc(title)}</h2>\n{body}\n</section>'


def page(title: str, subtitle: str, sections: Sequence[str]) -> str:
    """The whole document: no script, no external stylesheet, font or picture."""
    body = "\n".join(sections)
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{esc(title)}</h1>\n{paragraph(subtitle, note=True)}\n{body}\n</body>\n</html>\n")
