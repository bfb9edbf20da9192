"""Issue text to safe HTML: Markdown rendered, then sanitised.

Issue bodies and comments are untrusted input written by strangers. The Markdown renderer runs
with raw HTML disabled (``<script>`` or ``<img onerror=...>`` in the text comes out escaped,
as visible text), and its output still goes through the ``nh3`` sanitiser (an allow-list of
tags and attributes, ``http``/``https``/``mailto`` links only) so that a renderer bug cannot
open a hole. Links get ``rel="noopener noreferrer nofollow"``.
"""

from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml

_INLINE_TAGS = {"a", "br", "code", "del", "em", "s", "strong"}
_BLOCK_TAGS = {"blockquote", "hr", "li", "ol", "p", "pre", "ul", *(f"h{n}" for n in range(1, 7))}
_TABLE_TAGS = {"table", "tbody", "td", "th", "thead", "tr"}
ALLOWED_TAGS = _INLINE_TAGS | _BLOCK_TAGS | _TABLE_TAGS
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "th": {"align"}, "td": {"align"}}


def _image_as_link(self, tokens, idx, options, env) -> str:
    """Images become links: the page loads nothing from the issue authors' servers."""
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    return f'<a href="{escapeHtml(str(token.attrGet("src") or ""))}">[image: {escapeHtml(alt)}]</a>'


_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True})
_renderer.enable("table")
_renderer.add_render_rule("image", _image_as_link)


@lru_cache(maxsize=4096)
def render_markdown(text: str) -> str:
    """Sanitised HTML for one issue body or comment (cached: the same text renders once)."""
    html = _renderer.render(text or "")
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
