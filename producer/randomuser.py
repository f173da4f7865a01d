"""A client of the Random User API (https://randomuser.me/documentation).

GET {base}?results=N&seed=S&page=P&inc=... returns {"results": [...], "info": {...}}; the same seed and
page always return the same people. On failure the API answers {"error": "..."} (sometimes with
status 200), or 5xx. Each page is retried with exponential back-off; when a page still fails the
whole fetch fails with RandomUserUnavailable, so the caller can fall back to the offline generator.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from producer.errors import ProducerError
from producer.users import API_SOURCE, User, UserIdentity, user_identities

log = logging.getLogger(__name__)

FIELDS = "gender,name,location,email,login,dob,registered,nat"
# The API serves at most 5,000 results a request; smaller pages keep each response quick.
DEFAULT_BATCH = 1000


class RandomUserUnavailable(ProducerError):
    """The API could not deliver the users (unreachable, erroring, or malformed answers)."""


class _PageError(Exception):
    """One failed attempt at one page (retried)."""


@dataclass(frozen=True)
class RandomUserClient:
    base_url: str = "https://randomuser.me/api/"
    timeout_s: float = 10.0
    batch: int = DEFAULT_BATCH
    attempts: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 8.0

    def fetch_users(self, count: int, seed: int) -> list[User]:
        identities = user_identities(count, seed)
        users: list[User] = []
        with requests.Session() as http:
            for page, start in enumerate(range(0, count, self.batch), 1):
                wanted = min(self.batch, count - start)
                results = self._page_with_retries(http, wanted, seed, page)
                batch = zip(results, identities[start : start + wanted], strict=True)
                users += [_user(person, identity) for person, identity in batch]
        return users

    def _page_with_retries(self, http: requests.Session, wanted: int, seed: int, page: int) -> list[dict[str, Any]]:
        retrying = Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=wait_exponential(multiplier=self.backoff_s, max=self.backoff_max_s),
            retry=retry_if_exception_type(_PageError),
            before_sleep=lambda state: log.warning(
                "Random User API page %d, attempt %d of %d failed: %s",
                page,
                state.attempt_number,
                self.attempts,
                state.outcome.exception() if state.outcome else "",
            ),
            reraise=True,
        )
        try:
            return retrying(self._page, http, wanted, seed, page)
        except _PageError as error:
            raise RandomUserUnavailable(
                f"Random User API at {self.base_url} failed {self.attempts} times for page {page}: {error}"
            ) from error

    def _page(self, http: requests.Session, wanted: int, seed: int, page: int) -> list[dict[str, Any]]:
        # The page size stays self.batch for every page, so page P always holds the same people.
        params: dict[str, str | int] = {
            "results": self.batch,
            "seed": f"wikistream-{seed}",
            "page": page,
            "inc": FIELDS,
        }
        try:
            response = http.get(self.base_url, params=params, timeout=self.timeout_s)
        except requests.RequestException as error:
            raise _PageError(f"{type(error).__name__}: {error}") from error
        try:
            body = response.json()
        except ValueError as error:
            raise _PageError(f"HTTP {response.status_code}, not JSON") from error
        if isinstance(body, dict) and "error" in body:
            raise _PageError(f"HTTP {response.status_code}, API error: {body['error']}")
        if response.status_code != 200:
            raise _PageError(f"HTTP {response.status_code}")
        results = body.get("results") if isinstance(body, dict) else None
        if not isinstance(results, list) or len(results) < wanted:
            raise _PageError(f"expected {wanted} results, got {len(results) if isinstance(results, list) else 'none'}")
        try:
            # Parsed here, so a malformed person counts as a failed attempt like any other bad answer.
            return [_validated(person) for person in results[:wanted]]
        except (KeyError, TypeError, ValueError) as error:
            raise _PageError(f"malformed result: {error!r}") from error


def _validated(person: dict[str, Any]) -> dict[str, Any]:
    for value in (
        person["gender"],
        person["name"]["first"],
        person["name"]["last"],
        person["email"],
        person["login"]["username"],
        person["location"]["country"],
        person["nat"],
    ):
        if not isinstance(value, str) or not value:
            raise ValueError(f"empty or non-text field in {person!r:.200}")
    if int(person["dob"]["age"]) < 0:
        raise ValueError("negative age")
    datetime.fromisoformat(person["registered"]["date"])
    return person


def _user(person: dict[str, Any], identity: UserIdentity) -> User:
    return User(
        user_id=identity.user_id,
        username=person["login"]["username"],
        first_name=person["name"]["first"],
        last_name=person["name"]["last"],
        gender=person["gender"],
        email=person["email"],
        country=person["location"]["country"],
        nat=person["nat"],
        age=int(person["dob"]["age"]),
        registered_at=datetime.fromisoformat(person["registered"]["date"]),
        activity=identity.activity,
        source=API_SOURCE,
    )
