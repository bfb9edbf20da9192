"""The GitHub-flavoured parts of issue Markdown that CommonMark lacks, as markdown-it rules.

GitHub turns bare URLs, ``#123``, ``owner/repo#123`` and ``@user`` into links and shows
``- [ ]`` / ``- [x]`` list items as task boxes. A rater who cannot click from an issue to its
fixing pull request has to search GitHub by hand, so the labelling page does the same. The rules
work on the text tokens markdown-it has already parsed, so code spans, code blocks and existing
links are never touched, and every pattern is a linear-time regular expression (a 200,000
character line costs milliseconds, not seconds).
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token

GITHUB = "https://github.com"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_URL = r"https?://[^\s<>\"'`]+"
_CROSS_REFERENCE = r"(?<![\w/.#-])(?P<repo>[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)#(?P<cross>\d{1,9})\b"
_REFERENCE = r"(?<![\w/&#])#(?P<local>\d{1,9})\b"
_MENTION = r"(?<![\w/@`.])@(?P<user>[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38})\b(?![/@])"
PATTERN = re.compile(f"(?P<url>{_URL})|{_CROSS_REFERENCE}|{_REFERENCE}|{_MENTION}")
TRAILING = ".,;:!?*_~'\""
TASK = re.compile(r"^\[([ xX])\]\s")


def trim_url(url: str) -> str:
    """Drop the punctuation that ends a sentence, and a ``)`` that closes the surrounding text."""
    while url and (url[-1] in TRAILING or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def _link(href: str, text: str) -> list[Token]:
    opening = Token("link_open", "a", 1)
    opening.attrSet("href", href)
    content = Token("text", "", 0)
    content.content = text
    return [opening, content, Token("link_close", "a", -1)]


def _text(content: str) -> Token:
    token = Token("text", "", 0)
    token.content = content
    return token


def split_references(text: str, repository: str) -> list[Token]:
    """``text`` as text and link tokens: URLs, issue references and @mentions linked."""
    out: list[Token] = []
    position = 0
    for match in PATTERN.finditer(text):
        start, end = match.span()
        if match.group("url"):
            url = trim_url(match.group("url"))
            end = start + len(url)
            if len(url) <= len("https://"):
                continue
            href, label = url, url
        elif match.group("cross"):
            href = f"{GITHUB}/{match.group('repo')}/issues/{match.group('cross')}"
            label = match.group(0)
        elif match.group("local"):
            if not repository:
                continue
            href, label = f"{GITHUB}/{repository}/issues/{match.group('local')}", match.group(0)
        else:
            href, label = f"{GITHUB}/{match.group('user')}", match.group(0)
        if start > position:
            out.append(_text(text[position:start]))
        out += _link(href, label)
        position = end
    if position == 0:
        return []
    if position < len(text):
        out.append(_text(text[position:]))
    return out


def _link_references(state: StateCore) -> None:
    repository = state.env.get("repository", "")
    for block in state.tokens:
        if block.type != "inline" or not block.children:
            continue
        children: list[Token] = []
        in_link = 0
        for token in block.children:
            if token.type == "link_open":
                in_link += 1
            elif token.type == "link_close":
                in_link -= 1
            elif token.type == "text" and not in_link:
                replaced = split_references(token.content, repository)
                if replaced:
                    children += replaced
                    continue
            children.append(token)
        block.children = children


def _task_lists(state: StateCore) -> None:
    """``[ ]`` / ``[x]`` opening a list item becomes a box (text: nothing to sanitise)."""
    tokens = state.tokens
    for i, token in enumerate(tokens):
        if token.type != "inline" or i < 2 or tokens[i - 2].type != "list_item_open":
            continue
        first = token.children[0] if token.children else None
        if first is None or first.type != "text":
            continue
        match = TASK.match(first.content)
        if match:
            done = match.group(1) != " "
            first.content = ("☑ " if done else "☐ ") + first.content[match.end() :]
            tokens[i - 2].attrSet("class", "task done" if done else "task")


def use_github_flavour(renderer: MarkdownIt) -> MarkdownIt:
    """Strikethrough, tables, task lists and linked references/URLs/mentions on ``renderer``."""
    renderer.enable(["strikethrough", "table"])
    renderer.core.ruler.push("github_task_lists", _task_lists)
    renderer.core.ruler.push("github_references", _link_references)
    return renderer
