"""Where the GitHub token comes from: ``GITHUB_TOKEN``, else ``gh auth token``, else none."""

from __future__ import annotations

import os
import shutil
import subprocess

ANONYMOUS_WARNING = (
    "no GitHub token (set GITHUB_TOKEN or run `gh auth login`): using the REST API anonymously, "
    "which GitHub limits to 60 requests per hour; a large crawl will spend most of its time waiting"
)


def find_token() -> str | None:
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    if token:
        return token
    gh = shutil.which("gh")
    if not gh:
        return None
    try:
        done = subprocess.run(
            [gh, "auth", "token"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None
