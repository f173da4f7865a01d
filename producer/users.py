"""Users: the rows of the PostgreSQL `users` table, and the offline generator that needs no network.

Whatever the source, user i of seed s has the same user_id and activity, so re-seeding with the same
seed overwrites rows instead of adding some, even if the Random User API was reachable one time and
not the next. activity is a Pareto weight (alpha = log4 5 ~ 1.16, the 80/20 rule): a few users read a lot.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from faker import Faker

UserSourceName = Literal["randomuser-api", "offline-synthetic"]
OFFLINE_SOURCE: UserSourceName = "offline-synthetic"
API_SOURCE: UserSourceName = "randomuser-api"
DEFAULT_USERS_SEED = 42
ACTIVITY_PARETO_ALPHA = 1.16
_ID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "users.wikistream.invalid")

# The Random User API's nationalities that Faker can name, with the API's spelling of the country.
NATIONALITIES: dict[str, tuple[str, str]] = {
    "AU": ("en_AU", "Australia"),
    "BR": ("pt_BR", "Brazil"),
    "CA": ("en_CA", "Canada"),
    "CH": ("de_CH", "Switzerland"),
    "DE": ("de_DE", "Germany"),
    "DK": ("da_DK", "Denmark"),
    "ES": ("es_ES", "Spain"),
    "FI": ("fi_FI", "Finland"),
    "FR": ("fr_FR", "France"),
    "GB": ("en_GB", "United Kingdom"),
    "IE": ("en_IE", "Ireland"),
    "IN": ("en_IN", "India"),
    "IR": ("fa_IR", "Iran"),
    "MX": ("es_MX", "Mexico"),
    "NL": ("nl_NL", "Netherlands"),
    "NO": ("no_NO", "Norway"),
    "NZ": ("en_NZ", "New Zealand"),
    "TR": ("tr_TR", "Turkey"),
    "UA": ("uk_UA", "Ukraine"),
    "US": ("en_US", "United States"),
}
# Fixed, so that generated users do not depend on the day they were generated.
_REGISTERED_FROM = datetime(2004, 1, 1, tzinfo=UTC)
_REGISTERED_SPAN_S = int((datetime(2024, 1, 1, tzinfo=UTC) - _REGISTERED_FROM).total_seconds())


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str
    first_name: str
    last_name: str
    gender: str
    email: str
    country: str
    nat: str
    age: int
    registered_at: datetime
    activity: float
    source: UserSourceName


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """What a user keeps whatever the source of the rest of the row."""

    user_id: str
    activity: float


def user_identities(count: int, seed: int) -> list[UserIdentity]:
    rng = random.Random(f"wikistream-activity-{seed}")
    return [
        UserIdentity(str(uuid.uuid5(_ID_NAMESPACE, f"{seed}:{index}")), rng.paretovariate(ACTIVITY_PARETO_ALPHA))
        for index in range(count)
    ]


def generate_offline_users(count: int, seed: int = DEFAULT_USERS_SEED) -> list[User]:
    """count users with Faker names in the API's nationalities, deterministic in seed."""
    rng = random.Random(f"wikistream-users-{seed}")
    fake = Faker([locale for locale, _ in NATIONALITIES.values()])
    for locale, _ in NATIONALITIES.values():
        # One shared seeded generator: per-locale seeding would give en_US and en_AU the same names.
        fake[locale].random = rng  # type: ignore[attr-defined]  # the stubs omit the setter
    nationalities = sorted(NATIONALITIES)
    users = []
    for identity in user_identities(count, seed):
        nat = rng.choice(nationalities)
        locale, country = NATIONALITIES[nat]
        person = fake[locale]
        gender = rng.choice(("female", "male"))
        first = person.first_name_female() if gender == "female" else person.first_name_male()
        username = f"{person.user_name()}{rng.randrange(10, 1000)}"
        users.append(
            User(
                user_id=identity.user_id,
                username=username,
                first_name=first,
                last_name=person.last_name(),
                gender=gender,
                # example.com is reserved for examples: a generated address can never reach anyone.
                email=f"{username}@example.com",
                country=country,
                nat=nat,
                age=rng.randrange(18, 80),
                registered_at=_REGISTERED_FROM + timedelta(seconds=rng.randrange(_REGISTERED_SPAN_S)),
                activity=identity.activity,
                source=OFFLINE_SOURCE,
            )
        )
    return users
