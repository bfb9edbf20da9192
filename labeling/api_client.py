"""A client of the label app's HTTP API, for labelling from a script as the page's script does.

The app refuses a save without the page's CSRF token, from another origin, or based on a stale
version; this client reads the token and the version from the issue page (the ``data-csrf`` and
``data-version`` attributes the page's script uses) and sends the same JSON the page sends. The
walk-through (README, ``notebooks/extend_dataset.ipynb``) labels two raters with it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import requests

from convfail.errors import ConvfailError

ATTRIBUTE = re.compile(r'data-(csrf|version)="([^"]*)"')


class LabelClient:
    """One rater's (or the adjudicator's) connection to a running label app at ``url``."""

    def __init__(self, url: str, adjudicating: bool = False) -> None:
        self.url = url.rstrip("/")
        self.page, self.api = ("adjudicate", "final") if adjudicating else ("issue", "label")
        self.http = requests.Session()

    def page_state(self, repository: str, number: int) -> dict[str, str]:
        """The issue page's CSRF token and the version of the label it shows."""
        try:
            response = self.http.get(f"{self.url}/{self.page}/{repository}/{number}", timeout=30)
        except requests.ConnectionError:
            raise ConvfailError(
                f"no label app answers at {self.url}",
                "start it with `convfail label serve` (or `label adjudicate`) and use its URL",
            ) from None
        if response.status_code == 404:
            raise ConvfailError(
                f"{repository}#{number}: the app has no such issue ({response.url})",
                "is the issue in the study the app was started for?",
            )
        if response.status_code != 200:
            raise ConvfailError(
                f"{repository}#{number}: the app answered {response.status_code} for its page",
                "the label app's terminal says why",
            )
        found = {k: html.unescape(v) for k, v in ATTRIBUTE.findall(response.text)}
        if "csrf" not in found:
            raise ConvfailError(f"{response.url}: the page carries no CSRF token", "is it the app?")
        return found

    def save(self, repository: str, number: int, changes: Mapping[str, str]) -> dict:
        """Save ``changes`` to one issue's label, based on the version the page shows."""
        state = self.page_state(repository, number)
        response = self.http.post(
            f"{self.url}/api/{self.api}",
            json={
                "repository": repository,
                "number": number,
                "changes": dict(changes),
                "base": state.get("version", ""),
            },
            headers={"X-CSRF-Token": state["csrf"], "Origin": self.url},
            timeout=30,
        )
        body = response.json()
        if response.status_code != 200:
            raise ConvfailError(
                f"{repository}#{number} not saved ({response.status_code}): {body.get('error')}",
                "read the error; the label app's terminal says more",
            )
        return body
