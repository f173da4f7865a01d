"""The one place that talks to Metabase's REST API.

Written against the documented API of Metabase v0.56 (the OSS edition): endpoint paths, request
bodies and response shapes follow that version's API reference and its endpoint schemas. It was
verified against that documentation through tests/dashboards/metabase_standin.py, not against a
running Metabase (see dashboards/README.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Self

import requests

METABASE_API_VERSION = "v0.56"
SESSION_HEADER = "X-Metabase-Session"

Json = dict[str, Any]


class MetabaseError(RuntimeError):
    """A non-2xx answer, with the status and Metabase's own message."""

    def __init__(self, method: str, path: str, status: int, detail: str) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"{method} {path} answered HTTP {status}: {detail}")


class MetabaseUnreachable(RuntimeError):
    """Metabase did not answer its health check in time."""


class MetabaseClient:
    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = requests.Session()

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: Json | None = None, params: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, self.base_url + path, json=body, params=params, timeout=self.timeout)
        if response.status_code >= 400:
            raise MetabaseError(method, path, response.status_code, _error_detail(response))
        return response.json() if response.content else None

    def _object(self, method: str, path: str, body: Json | None = None, params: dict[str, Any] | None = None) -> Json:
        return _as_object(self._call(method, path, body, params), method, path)

    def _objects(
        self, method: str, path: str, params: dict[str, Any] | None = None, key: str | None = None
    ) -> list[Json]:
        """A JSON list of objects: the whole answer, or its `key` member (Metabase wraps some lists in `data`)."""
        answer = self._call(method, path, None, params)
        if key is not None:
            answer = _as_object(answer, method, path).get(key)
        if not isinstance(answer, list):
            raise MetabaseError(method, path, 200, f"expected a JSON list, got {type(answer).__name__}")
        return [_as_object(item, method, path) for item in answer]

    def _use_session(self, session_id: str) -> None:
        self._http.headers[SESSION_HEADER] = session_id

    # --- health, setup, session --------------------------------------------------------------------
    def wait_until_healthy(
        self,
        timeout: float,
        poll_interval: float = 2.0,
        alive: Callable[[], bool] | None = None,
        on_state: Callable[[str], None] | None = None,
    ) -> None:
        """Metabase answers 503 {"status": "initializing", "progress": ...} while it migrates its application
        database (a first start takes minutes), and refuses connections before that: poll until it says
        "ok", and give up once `timeout` seconds have passed, or at once when `alive` says the process
        that serves it is gone. `on_state` hears each new state while it waits."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while True:
            if alive is not None and not alive():
                raise MetabaseUnreachable("Metabase exited while starting")
            # An answer that hangs must not carry the wait past its deadline.
            request_timeout = min(self.timeout, max(deadline - time.monotonic(), 0.5))
            try:
                response = self._http.get(self.base_url + "/api/health", timeout=request_timeout)
                if response.status_code == 200 and _json_or_none(response) == {"status": "ok"}:
                    return
                state = _health_state(response)
            except (requests.ConnectionError, requests.Timeout) as error:
                state = type(error).__name__
            if on_state is not None and state != last:
                on_state(state)
            last = state
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MetabaseUnreachable(f"Metabase at {self.base_url} is not healthy after {timeout:.0f} s ({last})")
            time.sleep(min(poll_interval, remaining))

    def session_properties(self) -> Json:
        """Public settings; before first-run setup they include `setup-token`."""
        return self._object("GET", "/api/session/properties")

    def setup(self, token: str, email: str, password: str, first_name: str, last_name: str, site_name: str) -> None:
        """Create the first admin (only possible once) and keep the session it returns."""
        body = {
            "token": token,
            "user": {"email": email, "password": password, "first_name": first_name, "last_name": last_name},
            "prefs": {"site_name": site_name, "site_locale": "en"},
        }
        self._use_session(self._call("POST", "/api/setup", body)["id"])

    def login(self, email: str, password: str) -> None:
        self._use_session(self._call("POST", "/api/session", {"username": email, "password": password})["id"])

    # --- databases ---------------------------------------------------------------------------------
    def databases(self) -> list[Json]:
        return self._objects("GET", "/api/database", key="data")

    def create_database(self, name: str, engine: str, details: Json) -> Json:
        return self._object("POST", "/api/database", {"name": name, "engine": engine, "details": details})

    def update_database(self, database_id: int, details: Json) -> Json:
        return self._object("PUT", f"/api/database/{database_id}", {"details": details})

    # --- collections -------------------------------------------------------------------------------
    def collections(self) -> list[Json]:
        return self._objects("GET", "/api/collection")

    def create_collection(self, name: str, description: str) -> Json:
        return self._object("POST", "/api/collection", {"name": name, "description": description or None})

    def collection_items(self, collection_id: int, model: str) -> list[Json]:
        return self._objects("GET", f"/api/collection/{collection_id}/items", params={"models": model}, key="data")

    # --- cards -------------------------------------------------------------------------------------
    def card(self, card_id: int) -> Json:
        return self._object("GET", f"/api/card/{card_id}")

    def create_card(self, card: Json) -> Json:
        return self._object("POST", "/api/card", card)

    def update_card(self, card_id: int, changes: Json) -> Json:
        return self._object("PUT", f"/api/card/{card_id}", changes)

    # --- dashboards --------------------------------------------------------------------------------
    def dashboard(self, dashboard_id: int) -> Json:
        return self._object("GET", f"/api/dashboard/{dashboard_id}")

    def create_dashboard(self, name: str, description: str, collection_id: int) -> Json:
        return self._object(
            "POST", "/api/dashboard", {"name": name, "description": description or None, "collection_id": collection_id}
        )

    def update_dashboard(self, dashboard_id: int, changes: Json) -> Json:
        """Recent Metabase updates the dashboard and its cards in one call: `dashcards` is the full
        list, a negative id creates a dashcard, and a dashcard left out is removed."""
        return self._object("PUT", f"/api/dashboard/{dashboard_id}", changes)


def _error_detail(response: requests.Response) -> str:
    # Metabase answers errors as JSON or as plain text. A failed connection test is {"message": what went
    # wrong, "errors": {field: what to check}}, a schema violation {"errors": {field: message}}: both parts
    # are shown, the message first.
    body = _json_or_none(response)
    if body is None:
        return response.text.strip()[:500] or response.reason
    if isinstance(body, dict) and (body.get("message") or body.get("errors")):
        errors = body.get("errors")
        fields = (
            "; ".join(f"{field}: {message}" for field, message in errors.items())
            if isinstance(errors, dict)
            else str(errors or "")
        )
        message = str(body.get("message") or "")
        return f"{message} ({fields})" if message and fields else message or fields
    return str(body)[:500]


def _health_state(response: requests.Response) -> str:
    body = _json_or_none(response)
    if isinstance(body, dict) and body.get("status") == "initializing":
        progress = body.get("progress")
        done = f", {progress:.0%} done" if isinstance(progress, (int, float)) else ""
        return f"HTTP {response.status_code}: still initializing{done}"
    return f"HTTP {response.status_code}: {_error_detail(response) if response.status_code >= 400 else body}"


def _json_or_none(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _as_object(answer: Any, method: str, path: str) -> Json:
    if not isinstance(answer, dict):
        raise MetabaseError(method, path, 200, f"expected a JSON object, got {type(answer).__name__}")
    return answer
