"""Choosing where users come from: the Random User API, the offline generator, or the API with fallback."""

from __future__ import annotations

import enum
import logging

from producer.randomuser import RandomUserClient, RandomUserUnavailable
from producer.users import User, generate_offline_users

log = logging.getLogger(__name__)


class UserSource(enum.StrEnum):
    AUTO = "auto"
    API = "api"
    OFFLINE = "offline"


def obtain_users(count: int, seed: int, source: UserSource, client: RandomUserClient) -> list[User]:
    """count users from source; AUTO falls back to the offline generator, saying so, if the API fails."""
    if source is UserSource.OFFLINE:
        log.info("generating %d users offline (Faker, source 'offline-synthetic')", count)
        return generate_offline_users(count, seed)
    try:
        log.info("fetching %d users from the Random User API at %s", count, client.base_url)
        return client.fetch_users(count, seed)
    except RandomUserUnavailable as error:
        if source is UserSource.API:
            raise
        log.warning(
            "FALLING BACK to the offline generator: %s. The users are generated offline with Faker "
            "and stored with source 'offline-synthetic'.",
            error,
        )
        return generate_offline_users(count, seed)
