"""Issue text to safe HTML: GitHub-flavoured Markdown rendered, then sanitised.

Issue bodies and comments are untrusted input written by strangers, yet raters need them the way
GitHub shows them: ``<details>`` folded, ``<img>`` as a picture reference, bare URLs, ``#123``
and ``@user`` as links (:mod:`labeling.gfm`). So the renderer accepts raw HTML, and everything it
produces goes through the ``nh3`` sanitiser: an allow-list of tags and attributes,
``http``/``https``/``mailto`` links only, ``<script>`` and ``<style>`` dropped with their content,
every event handler dropped. Images then become links: the page loads nothing from the issue
authors' servers (the CSP would refuse it anyway). Links get ``rel="noopener noreferrer
nofollow"``. Lone surrogates (a truncated emoji in a mined body) become U+FFFD, so the page
can always be encoded.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from html import escape, unescape

import nh3
from markdown_it import MarkdownIt

from labeling.gfm import use_github_flavour

_INLINE_TAGS = {"a", "b", "br", "code", "del", "em", "i", "ins", "kbd", "s", "strong"}
_INLINE_TAGS |= {"sub", "sup", "img"}
_BLOCK_TAGS = {"blockquote", "details", "summary", "hr", "li", "ol", "p", "pre", "ul"}
_BLOCK_TAGS |= {"dl", "dt", "dd", *(f"h{n}" for n in range(1, 7))}
_TABLE_TAGS = {"table", "tbody", "td", "th", "thead", "tr"}
ALLOWED_TAGS = _INLINE_TAGS | _BLOCK_TAGS | _TABLE_TAGS
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "code": {"class"},
    "details": {"open"},
    "img": {"src", "alt"},
    "th": {"align"},
    "td": {"align"},
}
ABSOLUTE = re.compile(r"^(?:https?://|mailto:)", re.IGNORECASE)


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """A relative link would point into the labelling app itself, so it is dropped."""
    if attribute in {"href", "src"} and not ABSOLUTE.match(value.strip()):
        return None
    return value


_CLEANER = nh3.Cleaner(
    tags=ALLOWED_TAGS,
    attribute_filter=_absolute_links_only,
    clean_content_tags={"script", "style"},
    attributes=ALLOWED_ATTRIBUTES,
    allowed_classes={"li": {"task", "done"}},  # the task-list marks, not the page's own classes
    url_schemes={"http", "https", "mailto"},
    link_rel="noopener noreferrer nofollow",
)
# nh3 writes every attribute as name="value" with quotes escaped, so this reads its output safely.
_SANITISED_IMG = re.compile(r'<img((?: [a-z]+="[^"]*")*)>')
LONG_LINE = 5_000
TEXT_LIMIT = 1_000_000
_ATTRIBUTE = re.compile(r' ([a-z]+)="([^"]*)"')


def scrub(text: str) -> str:
    """``text`` with lone surrogates replaced (surrogate pairs written as two escapes joined)."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _img_as_link(match: re.Match) -> str:
    attributes = dict(_ATTRIBUTE.findall(match.group(1)))
    alt = unescape(attributes.get("alt", "")) or "image"
    src = attributes.get("src", "")
    label = f"[image: {escape(alt, quote=False)}]"
    if not src:
        return label
    return f'<a href="{src}" rel="noopener noreferrer nofollow">{label}</a>'


def _markdown_image(self, tokens, idx, options, env) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return f'<img src="{escape(str(token.attrGet("src") or ""))}" alt="{escape(alt)}">'


def tame_long_lines(text: str) -> str:
    """Very long lines outside code blocks as code blocks of their own, and very long texts cut.

    markdown-it's inline parser spends tens of microseconds per special character, so one
    200,000-character line of ``*`` or ``[`` would take seconds; a code block is copied through.
    """
    if len(text) > TEXT_LIMIT:
        rest = len(text) - TEXT_LIMIT
        text = (
            text[:TEXT_LIMIT] + f"\n\n*(cut here: {rest:,} more characters, read them on GitHub)*"
        )
    if not any(len(line) > LONG_LINE for line in text.split("\n")):
        return text
    out, fence = [], ""
    for line in text.split("\n"):
        stripped = line.lstrip()
        if fence:
            if stripped.startswith(fence):
                fence = ""
        elif stripped[:3] in ("```", "~~~"):
            fence = stripped[:3]
        elif len(line) > LONG_LINE:
            ticks = "`" * (max((len(run) for run in re.findall(r"`+", line)), default=0) + 3)
            line = f"{ticks}\n{line}\n{ticks}"
        out.append(line)
    return "\n".join(out)


_renderer = use_github_flavour(
    MarkdownIt("commonmark", {"html": True, "linkify": False, "breaks": True})
)
_renderer.add_render_rule("image", _markdown_image)


CACHE_SIZE = 4096  # texts (a body or a comment): every text of a 1,000-issue study
_cache: OrderedDict[tuple[str, str], str] = OrderedDict()
_cache_lock = threading.Lock()


def render_uncached(text: str, repository: str = "") -> str:
    """Sanitised HTML for one body or comment of an issue of ``repository`` (``#N`` links there)."""
    html = _renderer.render(tame_long_lines(scrub(text or "")), {"repository": repository})
    return _SANITISED_IMG.sub(_img_as_link, _CLEANER.clean(html))


def remember(text: str, repository: str, html: str) -> str:
    """Keep ``html`` as the rendering of ``text`` (the least recently used text makes room)."""
    with _cache_lock:
        _cache[(text, repository)] = html
        _cache.move_to_end((text, repository))
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return html


def is_rendered(text: str, repository: str = "") -> bool:
    with _cache_lock:
        return (text, repository) in _cache


def render_markdown(text: str, repository: str = "") -> str:
    """:func:`render_uncached`, cached: the same text renders once, here or in the background
    (:mod:`labeling.render_worker`)."""
    with _cache_lock:
        html = _cache.get((text, repository))
        if html is not None:
            _cache.move_to_end((text, repository))
            return html
    return remember(text, repository, render_uncached(text, repository))
