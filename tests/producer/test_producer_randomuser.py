"""The Random User API client against a local server speaking the API's documented format."""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest

from producer.randomuser import RandomUserClient, RandomUserUnavailable
from producer.user_sources import UserSource, obtain_users
from producer.users import API_SOURCE, OFFLINE_SOURCE, generate_offline_users, user_identities


def person(seed: str, page: int, index: int) -> dict[str, object]:
    tag = f"{seed}-{page}-{index}"
    return {
        "gender": "female" if index % 2 else "male",
        "name": {"title": "Ms", "first": f"First{tag}", "last": f"Last{tag}"},
        "location": {"city": "Aarhus", "country": "Denmark", "postcode": 1234},
        "email": f"user{tag}@example.com",
        "login": {"uuid": f"uuid-{tag}", "username": f"user{tag}"},
        "dob": {"date": "1990-02-03T04:05:06.007Z", "age": 35},
        "registered": {"date": "2012-07-08T09:10:11.012Z", "age": 13},
        "nat": "DK",
    }


class FakeRandomUser(BaseHTTPRequestHandler):
    """/api/ answers like randomuser.me; /fail-N/ answers 500 N times first; /error/, /slow/, /broken/ misbehave."""

    requests: ClassVar[list[dict[str, list[str]]]] = []
    failures_left: ClassVar[dict[str, int]] = {}
    lock = threading.Lock()
    release = threading.Event()

    def log_message(self, *_args: object) -> None:  # keep the test output clean
        pass

    def _json(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        with self.lock:
            self.requests.append(query)
            if url.path.startswith("/fail-"):
                left = self.failures_left.setdefault(url.path, int(url.path.strip("/").split("-")[1]))
                if left:
                    self.failures_left[url.path] = left - 1
                    self._json(500, {"error": "Internal Server Error"})
                    return
        if url.path == "/error/":
            self._json(200, {"error": "Uh oh, something has gone wrong. Please tweet us @randomapi about the issue."})
        elif url.path == "/slow/":
            self.release.wait(timeout=10)  # far longer than the client's timeout; released at teardown
        elif url.path == "/broken/":
            self._json(200, {"results": [{"gender": "male"}], "info": {}})
        else:
            results, seed, page = int(query["results"][0]), query["seed"][0], int(query["page"][0])
            self._json(
                200,
                {
                    "results": [person(seed, page, i) for i in range(results)],
                    "info": {"seed": seed, "results": results, "page": page, "version": "1.4"},
                },
            )


@pytest.fixture
def api(serve):
    FakeRandomUser.requests = []
    FakeRandomUser.failures_left = {}
    FakeRandomUser.release.clear()
    base = serve(FakeRandomUser)
    yield base
    FakeRandomUser.release.set()


def client(url: str, **overrides: object) -> RandomUserClient:
    options = {"timeout_s": 0.5, "batch": 40, "attempts": 3, "backoff_s": 0.01, "backoff_max_s": 0.02} | overrides
    return RandomUserClient(base_url=url, **options)  # type: ignore[arg-type]  # each test passes valid types


def test_users_are_fetched_in_seeded_pages(api: str) -> None:
    users = client(f"{api}/api/").fetch_users(100, seed=7)
    assert [(q["page"], q["results"], q["seed"]) for q in FakeRandomUser.requests] == [
        (["1"], ["40"], ["wikistream-7"]),
        (["2"], ["40"], ["wikistream-7"]),
        (["3"], ["40"], ["wikistream-7"]),
    ]
    assert FakeRandomUser.requests[0]["inc"] == ["gender,name,location,email,login,dob,registered,nat"]
    assert len(users) == 100
    assert users[0].first_name == "Firstwikistream-7-1-0" and users[99].first_name == "Firstwikistream-7-3-19"
    assert users[1].country == "Denmark" and users[1].gender == "female" and users[1].age == 35
    assert users[1].registered_at.isoformat() == "2012-07-08T09:10:11.012000+00:00"
    assert {user.source for user in users} == {API_SOURCE}
    # Same ids and weights as the offline generator would give: re-seeding from either source overwrites.
    assert [(u.user_id, u.activity) for u in users] == [(i.user_id, i.activity) for i in user_identities(100, 7)]


def test_http_500s_are_retried_with_back_off(api: str) -> None:
    users = client(f"{api}/fail-2/").fetch_users(10, seed=1)
    assert len(users) == 10 and len(FakeRandomUser.requests) == 3


@pytest.mark.parametrize("path", ["fail-99", "error", "slow", "broken"])
def test_persistent_failures_make_the_api_unavailable(api: str, path: str) -> None:
    with pytest.raises(RandomUserUnavailable, match="failed 3 times for page 1"):
        client(f"{api}/{path}/").fetch_users(10, seed=1)
    assert len(FakeRandomUser.requests) == 3


@pytest.mark.parametrize("path", ["fail-99", "error", "slow"])
def test_auto_falls_back_to_offline_users_and_says_so(api: str, path: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        users = obtain_users(30, 4, UserSource.AUTO, client(f"{api}/{path}/", attempts=2))
    assert users == generate_offline_users(30, 4)
    assert {user.source for user in users} == {OFFLINE_SOURCE}
    assert "FALLING BACK to the offline generator" in caplog.text


def test_api_source_does_not_fall_back(api: str) -> None:
    with pytest.raises(RandomUserUnavailable):
        obtain_users(5, 4, UserSource.API, client(f"{api}/error/", attempts=1))


def test_auto_uses_the_api_when_it_answers(api: str) -> None:
    users = obtain_users(5, 4, UserSource.AUTO, client(f"{api}/api/"))
    assert {user.source for user in users} == {API_SOURCE}


def test_an_unreachable_host_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    # Port 9 (discard) on loopback: nothing listens there, the connection is refused at once.
    with caplog.at_level(logging.WARNING):
        users = obtain_users(3, 2, UserSource.AUTO, client("http://127.0.0.1:9/api/", attempts=2))
    assert {user.source for user in users} == {OFFLINE_SOURCE}
    assert "ConnectionError" in caplog.text
