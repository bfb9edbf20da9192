"""The issue renderer, construct by construct: what GitHub shows, and nothing unsafe."""

from __future__ import annotations

import time
from html.parser import HTMLParser

import pytest

from labeling.markdown import render_markdown

REPO = "pytorch/pytorch"


class _Links(HTMLParser):
    """The links of some HTML as (href, text) pairs, and every tag seen."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.tags: list[str] = []
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "a":
            self._href = dict(attrs).get("href") or ""
            self.links.append((self._href, ""))

    def handle_endtag(self, tag):
        if tag == "a":
            self._href = None

    def handle_data(self, data):
        if self._href is not None:
            href, text = self.links[-1]
            self.links[-1] = (href, text + data)


def links(text: str, repository: str = REPO) -> list[tuple[str, str]]:
    parser = _Links()
    parser.feed(render_markdown(text, repository))
    return parser.links


def tags(text: str) -> list[str]:
    parser = _Links()
    parser.feed(render_markdown(text, REPO))
    return parser.tags


def test_bare_urls_become_links_without_the_sentence_punctuation():
    assert links("fixed by https://github.com/pytorch/pytorch/pull/99.") == [
        ("https://github.com/pytorch/pytorch/pull/99", "https://github.com/pytorch/pytorch/pull/99")
    ]
    assert links("(see https://en.wikipedia.org/wiki/ONNX_(format))")[0][0] == (
        "https://en.wikipedia.org/wiki/ONNX_(format)"
    )
    assert links("ftp://example.org/x and javascript:alert(1)") == []


def test_issue_references_link_to_the_issue_on_github():
    assert links("duplicate of #123, see onnx/onnx#45") == [
        ("https://github.com/pytorch/pytorch/issues/123", "#123"),
        ("https://github.com/onnx/onnx/issues/45", "onnx/onnx#45"),
    ]
    # not references: a heading mark, an anchor inside a word, no repository to point to
    assert links("# 12 title\n\nissue#12 and path/#12") == []
    assert links("#7", repository="") == []


def test_mentions_link_to_the_user_but_emails_do_not():
    assert links("thanks @BowenBao and @justin-chu!") == [
        ("https://github.com/BowenBao", "@BowenBao"),
        ("https://github.com/justin-chu", "@justin-chu"),
    ]
    assert links("mail me at dev@example.org") == []


def test_code_and_existing_links_are_left_alone():
    assert links("`#12 @x https://a.org` and\n\n```\nTraceback #3 @y\n```\n") == []
    assert links("[the fix](https://github.com/a/b/pull/1) by @z") == [
        ("https://github.com/a/b/pull/1", "the fix"),
        ("https://github.com/z", "@z"),
    ]


def test_details_and_summary_fold_and_markdown_inside_still_renders():
    html = render_markdown(
        "<details><summary>Full log</summary>\n\n```\nboom\n```\n</details>", REPO
    )
    assert "<details><summary>Full log</summary>" in html
    assert "<pre><code>boom\n</code></pre>" in html and "</details>" in html
    assert "&lt;details" not in html


def test_raw_and_markdown_images_become_references_never_loads():
    html = render_markdown(
        '<img width="300" src="https://user-images.example/a.png" alt="netron" onerror="x()">\n\n'
        "![graph](https://example.org/g.png)",
        REPO,
    )
    assert "<img" not in html and "onerror" not in html and "width" not in html
    assert '<a href="https://user-images.example/a.png" rel="noopener noreferrer nofollow">' in html
    assert "[image: netron]" in html and "[image: graph]" in html
    assert "[image: image]" in render_markdown('<img src="javascript:alert(1)">', REPO)


def test_strikethrough_and_task_lists():
    html = render_markdown("~~opset 9~~ opset 11\n\n- [ ] export\n- [x] checker\n- plain", REPO)
    assert "<s>opset 9</s>" in html
    assert '<li class="task">☐ export</li>' in html
    assert '<li class="task done">☑ checker</li>' in html
    assert "<li>plain</li>" in html
    raw = render_markdown('<ul><li class="task conflict" id="x">forged</li></ul>', REPO)
    assert '<li class="task">forged</li>' in raw  # no class or id of the page's own


def test_scripts_styles_and_handlers_are_dropped_with_their_content():
    html = render_markdown(
        "<script>steal()</script><style>body{}</style><div onclick='x()'>ok</div>"
        "<a href='javascript:x()'>j</a><iframe src='https://e.org'></iframe><form></form>",
        REPO,
    )
    assert "steal" not in html and "body{}" not in html
    assert set(tags(html)) <= {"a", "p"} and "onclick" not in html and "javascript" not in html
    assert "ok" in html


def test_relative_links_would_point_into_the_app_so_they_are_dropped():
    assert links("[x](/api/label) [y](queue) [z](#top)") == [("", "x"), ("", "y"), ("", "z")]


def test_lone_surrogates_become_replacement_characters():
    html = render_markdown("broken emoji \ud83d then a pair \ud83d\ude00", REPO)
    html.encode("utf-8")  # would raise on a lone surrogate
    assert "\ufffd" in html and "😀" in html


@pytest.mark.parametrize("char", ["a", "*", "[", "@", "#1", "<"])
def test_a_200000_character_line_renders_quickly_and_whole(char):
    line = char * (200_000 // len(char))
    started = time.perf_counter()
    html = render_markdown(f"before\n\n{line}\n\nafter **bold**", REPO)
    elapsed = time.perf_counter() - started
    assert "<strong>bold</strong>" in html and html.count("<pre>") == 1
    assert elapsed < 5, f"{elapsed:.1f} s"  # was seconds to minutes per line; now milliseconds
