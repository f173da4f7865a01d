"""A stand-in for Metabase's REST API (v0.56), for the endpoints dashboards/ calls.

Real HTTP (threaded http.server; 127.0.0.1 and a free port unless told otherwise), state in memory.
It holds the client to Metabase's contract where a client could go wrong:

- the X-Metabase-Session header: 401 "Unauthenticated" without a valid one;
- start-up: optionally "initialising" for some requests or seconds, as Metabase is while it migrates
  its application database: GET /api/health answers 503 {"status": "initializing", "progress": p},
  every other /api/ route 503 "Metabase is still initializing. Please sit tight...";
- first-run setup: 400 on a wrong token or an invalid body, 403 once a user exists;
- ids are assigned here, never taken from the request (a negative dashcard id means "new");
- request bodies are checked against the endpoint schemas: 400 {"errors": {field: message}};
- registering a database (POST /api/database) or changing its details (PUT /api/database/:id, the
  details merged over the stored ones, the redacted password meaning "unchanged") really connects:
  TCP to details.host:details.port, then a PostgreSQL login with psycopg2; a failure answers 400
  {"message": ..., "errors": {field: hint}} with the messages of Metabase's PostgreSQL driver
  (errors only where it names a field: a refused connection names host and port);
- PUT /api/dashboard/:id replaces the dashcards list (left out = removed) and the tabs (left out =
  deleted, with their dashcards; an id it does not have makes a new tab); on a dashboard that has
  tabs, every dashcard needs a dashboard_tab_id (400: v0.56 checks the tabs the dashboard has, and
  does not yet fill in a single tab), and a tab id must name one of the dashboard's tabs after the
  update (500, a foreign-key violation in Metabase); nothing changes when a check fails;
- a dashcard with a positive id the dashboard does not have is refused (400). Stricter than
  Metabase, whose code inserts such a dashcard under a new id: a client must use negative ids for
  new dashcards and rely on neither;
- visualization_settings (of cards and dashcards) are normalised when saved: column_settings keys
  re-encoded as compact JSON, a reference to a result column by name (["ref", ["field", "clicks",
  {...}]]) rewritten to ["name","clicks"], the key form v0.56 writes for native questions, and
  null-valued settings dropped; GET answers show the normalised form;
- GET answers carry the extra fields Metabase adds (entity_id, timestamps, normalised queries,
  the database password redacted), so the client is not tested against an echo of itself.

Every request is recorded with the status it got, so tests can count the write calls.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import psycopg2

Json = dict[str, Any]

VERSION_TAG = "v0.56.13"
SESSION_HEADER = "X-Metabase-Session"
REDACTED_PASSWORD = "**MetabasePass**"
ENGINES = {"postgres", "h2", "mysql", "sqlite", "bigquery-cloud-sdk", "snowflake"}
SETUP_TAKEN = "The /api/setup route can only be used to create the first user, however a user currently exists."
WRITE_METHODS = {"POST", "PUT", "DELETE"}
STILL_INITIALISING = "Metabase is still initializing. Please sit tight..."
TABS_NEED_EVERY_CARD = "This dashboard has tab, makes sure every card has a tab"
# How long the connection test waits for the TCP handshake and the login.
TCP_PROBE_TIMEOUT_S = 2.0
LOGIN_TIMEOUT_S = 5


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    status: int


class _Answer(Exception):
    """An error answer: raised anywhere in a handler, turned into the HTTP response."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _bad_request(errors: dict[str, str]) -> _Answer:
    return _Answer(400, {"errors": errors, "specific-errors": {name: [message] for name, message in errors.items()}})


# --- the documented parameter schemas, as predicates with Metabase's messages ---------------------------
def _non_blank(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _int_at_least_zero(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _nullable(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


NON_BLANK = (_non_blank, "value must be a non-blank string.")
NULLABLE_NON_BLANK = (_nullable(_non_blank), "nullable value must be a non-blank string.")
NULLABLE_STRING = (_nullable(lambda v: isinstance(v, str)), "nullable string")
MAP = (lambda v: isinstance(v, dict), "value must be a map.")
NULLABLE_MAP = (_nullable(lambda v: isinstance(v, dict)), "nullable map")
NULLABLE_POSITIVE_INT = (_nullable(_positive_int), "nullable value must be an integer greater than zero.")
NULLABLE_BOOLEAN = (_nullable(lambda v: isinstance(v, bool)), "nullable boolean")
NULLABLE_SEQUENCE = (_nullable(lambda v: isinstance(v, list)), "nullable sequence")
EMAIL = (
    lambda v: isinstance(v, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[A-Za-z0-9-]+", v) is not None,
    "value must be a valid email address.",
)
# Metabase's default ("normal") password complexity: 6 characters, one of them a digit.
PASSWORD = (lambda v: isinstance(v, str) and len(v) >= 6 and any(c.isdigit() for c in v), "password is too common.")


def _check(
    body: Any,
    required: dict[str, tuple[Callable[[Any], bool], str]],
    optional: dict[str, tuple[Callable[[Any], bool], str]] | None = None,
) -> Json:
    if not isinstance(body, dict):
        raise _bad_request({"body": "value must be a map."})
    errors = {name: message for name, (ok, message) in required.items() if name not in body or not ok(body[name])}
    errors |= {name: message for name, (ok, message) in (optional or {}).items() if name in body and not ok(body[name])}
    if errors:
        raise _bad_request(errors)
    return body


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _entity_id() -> str:
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz-"
    return "".join(secrets.choice(alphabet) for _ in range(21))


# --- the connection test of POST/PUT /api/database ------------------------------------------------------
# Metabase's generic connection errors (metabase.driver.util), which its PostgreSQL driver picks by
# matching the server's message; any other "FATAL: x" becomes "X.", anything else is passed on as is.
# (Its "role does not exist" case is left out: with SCRAM, PostgreSQL answers an unknown role with
# "password authentication failed" too.)
CANNOT_CONNECT: Json = {
    "message": "Hmm, we couldn't connect to the database. Make sure your Host and Port settings are correct",
    "errors": {"host": "check your host settings", "port": "check your port settings"},
}
_POSTGRES_LOGIN_ERRORS: tuple[tuple[re.Pattern[str], Json], ...] = (
    (
        re.compile(r'database ".*" does not exist'),
        {
            "message": "Looks like the Database name is incorrect.",
            "errors": {"dbname": "check your database name settings"},
        },
    ),
    (
        re.compile(r"password authentication failed for user"),
        {"message": "Looks like your Password is incorrect.", "errors": {"password": "check your password"}},
    ),
)


def connection_error(details: Json) -> Json | None:
    """The 400 body Metabase answers when it cannot log in to PostgreSQL with these details; None if it can."""
    host, port = details.get("host") or "localhost", details.get("port") or 5432
    try:
        with socket.create_connection((str(host), int(port)), timeout=TCP_PROBE_TIMEOUT_S):
            pass
    except (OSError, ValueError):
        return CANNOT_CONNECT
    try:
        psycopg2.connect(
            host=str(host),
            port=int(port),
            dbname=details.get("dbname"),
            user=details.get("user"),
            password=details.get("password"),
            sslmode="require" if details.get("ssl") else "disable",
            connect_timeout=LOGIN_TIMEOUT_S,
            application_name="metabase-standin",
        ).close()
    except psycopg2.Error as error:
        return _humanised_login_error(str(error))
    return None


def _humanised_login_error(error: str) -> Json:
    # libpq frames the driver's words: 'connection to server at "h", port p failed: FATAL:  <the server's>'.
    said = re.sub(r"^connection to server at .*?, port \d+ failed:\s*", "", error.strip().splitlines()[0])
    fatal = re.match(r"FATAL:\s+(.+)", said)
    said = fatal.group(1).strip() if fatal else said
    for pattern, answer in _POSTGRES_LOGIN_ERRORS:
        if pattern.match(said):
            return answer
    return {"message": f"{said.capitalize()}." if fatal else said}


# --- what Metabase does to visualization_settings on save ------------------------------------------------
def normalised_settings(settings: Json) -> Json:
    normalised = _without_nulls(settings)
    if isinstance(normalised.get("column_settings"), dict):
        normalised["column_settings"] = {
            _column_settings_key(key): value for key, value in normalised["column_settings"].items()
        }
    return normalised


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {name: _without_nulls(item) for name, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value]
    return value


def _column_settings_key(key: str) -> str:
    try:
        reference = json.loads(key)
    except ValueError:
        return key
    if (
        isinstance(reference, list)
        and len(reference) == 2
        and reference[0] == "ref"
        and isinstance(reference[1], list)
        and len(reference[1]) >= 2
        and reference[1][0] == "field"
        and isinstance(reference[1][1], str)
    ):
        reference = ["name", reference[1][1]]
    return json.dumps(reference, separators=(",", ":"), ensure_ascii=False)


class MetabaseStandIn:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        initialising_requests: int = 0,
        initialising_seconds: float = 0.0,
    ) -> None:
        """Listens on host:port (0: a free port). Initialising until it has answered `initialising_requests`
        requests and `initialising_seconds` have passed since it started (both 0: ready at once)."""
        self._lock = threading.Lock()
        self._initialising_requests = initialising_requests
        self._initialising_seconds = initialising_seconds
        self._answered_while_initialising = 0
        self._started_at = time.monotonic()
        self.requests: list[RecordedRequest] = []
        self.setup_token = secrets.token_hex(16)
        self.users: dict[str, Json] = {}
        self.sessions: dict[str, int] = {}
        self.databases: dict[int, Json] = {}
        self.collections: dict[int, Json] = {}
        self.cards: dict[int, Json] = {}
        self.dashboards: dict[int, Json] = {}
        self._ids: defaultdict[str, Iterator[int]] = defaultdict(lambda: itertools.count(1))
        self._server = ThreadingHTTPServer((host, port), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="metabase-standin", daemon=True
        )
        self._routes: list[tuple[str, re.Pattern[str], Callable[..., Any], bool]] = [
            ("GET", re.compile(r"/api/health"), self._health, False),
            ("GET", re.compile(r"/api/session/properties"), self._properties, False),
            ("POST", re.compile(r"/api/setup"), self._setup, False),
            ("POST", re.compile(r"/api/session"), self._login, False),
            ("GET", re.compile(r"/api/database"), self._list_databases, True),
            ("POST", re.compile(r"/api/database"), self._create_database, True),
            ("PUT", re.compile(r"/api/database/(\d+)"), self._update_database, True),
            ("GET", re.compile(r"/api/collection"), self._list_collections, True),
            ("POST", re.compile(r"/api/collection"), self._create_collection, True),
            ("GET", re.compile(r"/api/collection/(\d+)/items"), self._collection_items, True),
            ("POST", re.compile(r"/api/card"), self._create_card, True),
            ("GET", re.compile(r"/api/card/(\d+)"), self._get_card, True),
            ("PUT", re.compile(r"/api/card/(\d+)"), self._update_card, True),
            ("POST", re.compile(r"/api/dashboard"), self._create_dashboard, True),
            ("GET", re.compile(r"/api/dashboard/(\d+)"), self._get_dashboard, True),
            ("PUT", re.compile(r"/api/dashboard/(\d+)"), self._update_dashboard, True),
        ]

    # --- lifecycle and inspection ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._started_at = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def writes(self) -> list[RecordedRequest]:
        """Requests that change content (a login creates a session, not content, and is left out)."""
        return [r for r in self.requests if r.method in WRITE_METHODS and r.path != "/api/session"]

    # --- dispatch --------------------------------------------------------------------------------------
    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = parts.path.rstrip("/") or "/"
        with self._lock:
            status, body = self._answer(method, path, parts.query, headers, raw_body)
            self.requests.append(RecordedRequest(method, path, status))
            return status, body

    def _answer(self, method: str, path: str, query: str, headers: dict[str, str], raw_body: bytes) -> tuple[int, Any]:
        progress = self._initialisation_progress()
        if progress is not None:
            self._answered_while_initialising += 1
            if (method, path) == ("GET", "/api/health"):
                return 503, {"status": "initializing", "progress": progress}
            if path == "/api" or path.startswith("/api/"):
                return 503, STILL_INITIALISING
        try:
            body = json.loads(raw_body) if raw_body else None
        except ValueError:
            return 400, "Malformed JSON in request body."
        for route_method, pattern, action, authenticated in self._routes:
            match = pattern.fullmatch(path)
            if match is None or route_method != method:
                continue
            try:
                if authenticated and headers.get(SESSION_HEADER.lower()) not in self.sessions:
                    raise _Answer(401, "Unauthenticated")
                return 200, action(*match.groups(), body=body, query=parse_qs(query))
            except _Answer as answer:
                return answer.status, answer.body
        return 404, "API endpoint does not exist."

    def _next_id(self, kind: str) -> int:
        return next(self._ids[kind])

    def _initialisation_progress(self) -> float | None:
        """None once initialised; until then how far along, below 1 (Metabase reports a fraction too)."""
        by_requests = (
            self._answered_while_initialising / self._initialising_requests if self._initialising_requests else 1.0
        )
        elapsed = time.monotonic() - self._started_at
        by_time = elapsed / self._initialising_seconds if self._initialising_seconds else 1.0
        progress = min(by_requests, by_time)
        return None if progress >= 1.0 else round(progress, 2)

    # --- health, setup, session --------------------------------------------------------------------------
    def _health(self, **_: Any) -> Json:
        return {"status": "ok"}

    def _properties(self, **_: Any) -> Json:
        return {
            "setup-token": self.setup_token,
            "has-user-setup": bool(self.users),
            "version": {"tag": VERSION_TAG, "date": "2025-10-01", "branch": "release-x.56.x"},
            "engines": {engine: {"driver-name": engine} for engine in sorted(ENGINES)},
            "site-name": "wikistream" if self.users else None,
        }

    def _setup(self, body: Any, **_: Any) -> Json:
        _check(
            body,
            {
                "token": (lambda v: v == self.setup_token, "Token does not match the setup token."),
                "user": MAP,
                "prefs": MAP,
            },
        )
        _check(
            body["user"],
            {"email": EMAIL, "password": PASSWORD},
            {"first_name": NULLABLE_NON_BLANK, "last_name": NULLABLE_NON_BLANK},
        )
        _check(body["prefs"], {"site_name": NON_BLANK})
        if self.users:
            raise _Answer(403, SETUP_TAKEN)
        user_id = self._next_id("user")
        user = body["user"]
        self.users[user["email"]] = {
            "id": user_id,
            "email": user["email"],
            "password": user["password"],
            "is_superuser": True,
        }
        personal = self._next_id("collection")
        self.collections[personal] = self._collection_json(
            personal, f"{user.get('first_name')}'s Personal Collection", None, user_id
        )
        return {"id": self._new_session(user_id)}

    def _login(self, body: Any, **_: Any) -> Json:
        _check(body, {"username": NON_BLANK, "password": NON_BLANK})
        user = self.users.get(body["username"])
        if user is None or user["password"] != body["password"]:
            raise _Answer(401, {"errors": {"password": "did not match stored password"}})
        return {"id": self._new_session(user["id"])}

    def _new_session(self, user_id: int) -> str:
        session = secrets.token_hex(16)
        self.sessions[session] = user_id
        return session

    # --- databases ---------------------------------------------------------------------------------------
    def _database_json(self, database: Json) -> Json:
        details = dict(database["details"])
        if "password" in details:
            details["password"] = REDACTED_PASSWORD
        return database | {"details": details}

    def _list_databases(self, **_: Any) -> Json:
        data = [self._database_json(db) for db in self.databases.values()]
        return {"data": data, "total": len(data)}

    def _create_database(self, body: Any, **_: Any) -> Json:
        engine = (lambda v: v in ENGINES, "value must be a valid database engine.")
        _check(
            body,
            {"name": NON_BLANK, "engine": engine, "details": MAP},
            {"is_full_sync": NULLABLE_BOOLEAN, "is_on_demand": NULLABLE_BOOLEAN, "auto_run_queries": NULLABLE_BOOLEAN},
        )
        failure = connection_error(body["details"])
        if failure is not None:
            raise _Answer(400, failure)
        database_id = self._next_id("database")
        self.databases[database_id] = {
            "id": database_id,
            "name": body["name"],
            "engine": body["engine"],
            "details": dict(body["details"]),
            "is_sample": False,
            "is_full_sync": True,
            "created_at": _now(),
            "updated_at": _now(),
            "features": ["native-parameters"],
        }
        return self._database_json(self.databases[database_id])

    def _update_database(self, database_id: str, body: Any, **_: Any) -> Json:
        database = self._find(self.databases, database_id)
        _check(body, {}, {"name": NULLABLE_NON_BLANK, "details": NULLABLE_MAP})
        if body.get("details") is not None:
            # Merged over the stored details; the UI sends the redacted placeholder back for an untouched password.
            details = database["details"] | body["details"]
            if details.get("password") == REDACTED_PASSWORD:
                details["password"] = database["details"].get("password")
            # Metabase tests the connection only when the details change.
            if details != database["details"]:
                failure = connection_error(details)
                if failure is not None:
                    raise _Answer(400, failure)
            database["details"] = details
        if body.get("name") is not None:
            database["name"] = body["name"]
        database["updated_at"] = _now()
        return self._database_json(database)

    # --- collections -------------------------------------------------------------------------------------
    def _collection_json(self, collection_id: int, name: str, description: str | None, owner: int | None) -> Json:
        return {
            "id": collection_id,
            "name": name,
            "description": description,
            "location": "/",
            "archived": False,
            "personal_owner_id": owner,
            "entity_id": _entity_id(),
            "slug": re.sub(r"\W+", "_", name.lower()),
            "namespace": None,
            "authority_level": None,
            "can_write": True,
            "created_at": _now(),
        }

    def _list_collections(self, **_: Any) -> list[Json]:
        root = {"id": "root", "name": "Our analytics", "location": None, "can_write": True, "effective_ancestors": []}
        return [root, *(c for c in self.collections.values() if not c["archived"])]

    def _create_collection(self, body: Any, **_: Any) -> Json:
        _check(body, {"name": NON_BLANK}, {"description": NULLABLE_NON_BLANK, "parent_id": NULLABLE_POSITIVE_INT})
        collection_id = self._next_id("collection")
        self.collections[collection_id] = self._collection_json(
            collection_id, body["name"], body.get("description"), None
        )
        if body.get("parent_id") is not None:
            self.collections[collection_id]["location"] = f"/{self._find(self.collections, body['parent_id'])['id']}/"
        return self.collections[collection_id]

    def _collection_items(self, collection_id: str, query: dict[str, list[str]], **_: Any) -> Json:
        self._find(self.collections, collection_id)
        models = set(query.get("models", ["card", "dashboard"]))
        data = []
        if "card" in models:
            data += [
                {
                    "id": c["id"],
                    "name": c["name"],
                    "description": c["description"],
                    "model": "card",
                    "display": c["display"],
                    "entity_id": c["entity_id"],
                    "collection_position": None,
                }
                for c in self.cards.values()
                if c["collection_id"] == int(collection_id) and not c["archived"]
            ]
        if "dashboard" in models:
            data += [
                {
                    "id": d["id"],
                    "name": d["name"],
                    "description": d["description"],
                    "model": "dashboard",
                    "entity_id": d["entity_id"],
                    "collection_position": None,
                }
                for d in self.dashboards.values()
                if d["collection_id"] == int(collection_id) and not d["archived"]
            ]
        return {"total": len(data), "data": data, "models": sorted(models), "limit": None, "offset": None}

    # --- cards -------------------------------------------------------------------------------------------
    def _check_query(self, query: Json) -> Json:
        if query.get("database") not in self.databases:
            raise _bad_request({"dataset_query": "database does not exist"})
        if query.get("type") != "native" or not _non_blank((query.get("native") or {}).get("query")):
            raise _bad_request({"dataset_query": "a native query needs native.query"})
        # Metabase stores the normalised form: template-tags is always there.
        return {"database": query["database"], "type": "native", "native": {"template-tags": {}} | query["native"]}

    def _check_collection(self, collection_id: int | None) -> None:
        if collection_id is not None and collection_id not in self.collections:
            raise _bad_request({"collection_id": "Collection does not exist."})

    def _create_card(self, body: Any, **_: Any) -> Json:
        _check(
            body,
            {"name": NON_BLANK, "dataset_query": MAP, "display": NON_BLANK, "visualization_settings": MAP},
            {
                "description": NULLABLE_NON_BLANK,
                "collection_id": NULLABLE_POSITIVE_INT,
                "type": (
                    _nullable(lambda v: v in ("question", "metric", "model")),
                    "nullable enum of question, metric, model",
                ),
                "parameters": NULLABLE_SEQUENCE,
                "cache_ttl": NULLABLE_POSITIVE_INT,
            },
        )
        self._check_collection(body.get("collection_id"))
        query = self._check_query(body["dataset_query"])
        card_id = self._next_id("card")
        self.cards[card_id] = {
            "id": card_id,
            "entity_id": _entity_id(),
            "name": body["name"],
            "description": body.get("description"),
            "display": body["display"],
            "dataset_query": query,
            "visualization_settings": normalised_settings(body["visualization_settings"]),
            "collection_id": body.get("collection_id"),
            "archived": False,
            "type": body.get("type") or "question",
            "query_type": "native",
            "database_id": query["database"],
            "table_id": None,
            "creator_id": 1,
            "created_at": _now(),
            "updated_at": _now(),
            "result_metadata": [],
            "parameters": [],
            "parameter_mappings": [],
            "cache_ttl": None,
            "collection_position": None,
            "dashboard_id": None,
            "can_write": True,
        }
        return self.cards[card_id]

    def _get_card(self, card_id: str, **_: Any) -> Json:
        return self._find(self.cards, card_id)

    def _update_card(self, card_id: str, body: Any, **_: Any) -> Json:
        card = self._find(self.cards, card_id)
        _check(
            body,
            {},
            {
                "name": NULLABLE_NON_BLANK,
                "description": NULLABLE_STRING,
                "display": NULLABLE_NON_BLANK,
                "dataset_query": NULLABLE_MAP,
                "visualization_settings": NULLABLE_MAP,
                "collection_id": NULLABLE_POSITIVE_INT,
                "archived": NULLABLE_BOOLEAN,
            },
        )
        self._check_collection(body.get("collection_id"))
        if body.get("dataset_query") is not None:
            body = body | {"dataset_query": self._check_query(body["dataset_query"])}
        if body.get("visualization_settings") is not None:
            body = body | {"visualization_settings": normalised_settings(body["visualization_settings"])}
        card.update({name: value for name, value in body.items() if name in card and name not in ("id", "entity_id")})
        card["updated_at"] = _now()
        return card

    # --- dashboards --------------------------------------------------------------------------------------
    def _create_dashboard(self, body: Any, **_: Any) -> Json:
        _check(
            body,
            {"name": NON_BLANK},
            {
                "description": NULLABLE_STRING,
                "collection_id": NULLABLE_POSITIVE_INT,
                "parameters": NULLABLE_SEQUENCE,
                "cache_ttl": NULLABLE_POSITIVE_INT,
                "collection_position": NULLABLE_POSITIVE_INT,
            },
        )
        self._check_collection(body.get("collection_id"))
        dashboard_id = self._next_id("dashboard")
        self.dashboards[dashboard_id] = {
            "id": dashboard_id,
            "entity_id": _entity_id(),
            "name": body["name"],
            "description": body.get("description"),
            "collection_id": body.get("collection_id"),
            "archived": False,
            "parameters": body.get("parameters") or [],
            "dashcards": [],
            "tabs": [],
            "width": "fixed",
            "auto_apply_filters": True,
            "creator_id": 1,
            "created_at": _now(),
            "updated_at": _now(),
            "cache_ttl": None,
            "collection_position": None,
            "enable_embedding": False,
            "embedding_params": None,
        }
        return self._get_dashboard(str(dashboard_id))

    def _get_dashboard(self, dashboard_id: str, **_: Any) -> Json:
        dashboard = self._find(self.dashboards, dashboard_id)
        dashcards = [dc | {"card": self.cards.get(dc["card_id"])} for dc in dashboard["dashcards"]]
        return dashboard | {"dashcards": dashcards, "tabs": [dict(tab) for tab in dashboard["tabs"]]}

    def _update_dashboard(self, dashboard_id: str, body: Any, **_: Any) -> Json:
        dashboard = self._find(self.dashboards, dashboard_id)
        _check(
            body,
            {},
            {
                "name": NULLABLE_NON_BLANK,
                "description": NULLABLE_STRING,
                "archived": NULLABLE_BOOLEAN,
                "collection_id": NULLABLE_POSITIVE_INT,
                "parameters": NULLABLE_SEQUENCE,
                "width": (lambda v: v in ("fixed", "full"), "enum of fixed, full"),
                "dashcards": NULLABLE_SEQUENCE,
                "tabs": NULLABLE_SEQUENCE,
            },
        )
        tabs = [
            _check(tab, {"id": (lambda v: isinstance(v, int), "value must be an integer."), "name": NON_BLANK})
            for tab in body.get("tabs") or []
        ]
        dashcards = [self._check_dashcard(dc) for dc in body.get("dashcards") or []]
        for name, items in (("dashcards", dashcards), ("tabs", tabs)):
            if len({item["id"] for item in items}) != len(items):
                raise _bad_request({name: "value must be seq of maps in which ids are unique"})
        # Everything is checked before anything changes: Metabase updates in one transaction.
        if "dashcards" in body:
            # v0.56 checks the tabs the dashboard has now, not the ones the request sends.
            if dashboard["tabs"] and any(dc.get("dashboard_tab_id") is None for dc in dashcards):
                raise _Answer(400, TABS_NEED_EVERY_CARD)
            new_tabs, tab_ids = self._replace_tabs(dashboard, tabs)
            new_dashcards = self._replace_dashcards(dashboard, dashcards, new_tabs, tab_ids)
            dashboard["tabs"], dashboard["dashcards"] = new_tabs, new_dashcards
        for name in ("name", "description", "archived", "collection_id", "parameters", "width"):
            if name in body and (body[name] is not None or name == "description"):
                dashboard[name] = body[name]
        dashboard["updated_at"] = _now()
        return self._get_dashboard(dashboard_id)

    def _check_dashcard(self, dashcard: Any) -> Json:
        _check(
            dashcard,
            {
                "id": (lambda v: isinstance(v, int) and not isinstance(v, bool), "value must be an integer."),
                "size_x": (_positive_int, "value must be an integer greater than zero."),
                "size_y": (_positive_int, "value must be an integer greater than zero."),
                "row": (_int_at_least_zero, "value must be an integer greater or equal to than zero."),
                "col": (_int_at_least_zero, "value must be an integer greater or equal to than zero."),
            },
            {
                "card_id": NULLABLE_POSITIVE_INT,
                "dashboard_tab_id": (
                    _nullable(lambda v: isinstance(v, int) and not isinstance(v, bool)),
                    "nullable value must be an integer.",
                ),
                "parameter_mappings": NULLABLE_SEQUENCE,
                "series": NULLABLE_SEQUENCE,
                "visualization_settings": NULLABLE_MAP,
            },
        )
        if dashcard.get("card_id") is not None and dashcard["card_id"] not in self.cards:
            raise _bad_request({"card_id": "Card does not exist."})
        return dashcard

    def _replace_tabs(self, dashboard: Json, tabs: list[Json]) -> tuple[list[Json], dict[int, int]]:
        """The tabs as sent, in that order; an id the dashboard does not have (negative or not) makes a new tab."""
        current = {tab["id"] for tab in dashboard["tabs"]}
        tab_ids = {}
        kept = []
        for position, tab in enumerate(tabs):
            new_id = tab["id"] if tab["id"] in current else self._next_id("tab")
            tab_ids[tab["id"]] = new_id
            kept.append({"id": new_id, "dashboard_id": dashboard["id"], "name": tab["name"], "position": position})
        return kept, tab_ids

    def _replace_dashcards(
        self, dashboard: Json, dashcards: list[Json], tabs: list[Json], tab_ids: dict[int, int]
    ) -> list[Json]:
        kept_tabs = {tab["id"] for tab in tabs}
        # Dashcards on a deleted tab go with it.
        existing = {
            dc["id"]: dc
            for dc in dashboard["dashcards"]
            if dc.get("dashboard_tab_id") is None or dc["dashboard_tab_id"] in kept_tabs
        }
        replaced = []
        for dashcard in dashcards:
            if dashcard["id"] > 0 and dashcard["id"] not in existing:
                raise _bad_request({"dashcards": f"dashcard {dashcard['id']} is not on this dashboard"})
            base = existing.get(dashcard["id"]) or {
                "id": self._next_id("dashcard"),
                "dashboard_id": dashboard["id"],
                "created_at": _now(),
                "action_id": None,
                "parameter_mappings": [],
                "series": [],
                "visualization_settings": {},
                "dashboard_tab_id": None,
            }
            changes = {name: value for name, value in dashcard.items() if name != "id"}
            tab_id = changes.get("dashboard_tab_id")
            if tab_id is not None:
                changes["dashboard_tab_id"] = tab_id = tab_ids.get(tab_id, tab_id)
                if tab_id not in kept_tabs:
                    raise _Answer(
                        500,
                        {
                            "message": 'insert or update on table "report_dashboardcard" violates foreign key '
                            f'constraint "fk_report_dashboardcard_ref_dashboard_tab_id": no tab {tab_id}'
                        },
                    )
            if changes.get("visualization_settings") is not None:
                changes["visualization_settings"] = normalised_settings(changes["visualization_settings"])
            replaced.append(base | changes | {"updated_at": _now()})
        return replaced

    # --- helpers -----------------------------------------------------------------------------------------
    @staticmethod
    def _find(table: dict[int, Json], item_id: str | int) -> Json:
        item = table.get(int(item_id))
        if item is None:
            raise _Answer(404, "Not found.")
        return item


def _handler_for(standin: MetabaseStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, body = standin.handle(self.command, self.path, headers, raw)
            is_text = isinstance(body, str)
            payload = (body if is_text else json.dumps(body)).encode()
            self.send_response(status)
            self.send_header(
                "Content-Type", "text/plain; charset=utf-8" if is_text else "application/json; charset=utf-8"
            )
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

        def log_message(self, *_: Any) -> None:
            """Quiet: the tests assert on recorded requests instead."""

    return Handler
