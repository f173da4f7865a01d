"""Offline users: deterministic, table-valid, skewed activity, ids independent of the source."""

from __future__ import annotations

from datetime import UTC

from producer.users import NATIONALITIES, OFFLINE_SOURCE, generate_offline_users, user_identities


def test_the_same_seed_gives_the_same_users() -> None:
    assert generate_offline_users(200, seed=5) == generate_offline_users(200, seed=5)
    assert generate_offline_users(50, seed=5) == generate_offline_users(200, seed=5)[:50]
    assert {u.user_id for u in generate_offline_users(50, 5)}.isdisjoint(
        u.user_id for u in generate_offline_users(50, 6)
    )


def test_ids_and_activity_depend_only_on_seed_and_position() -> None:
    users = generate_offline_users(100, seed=8)
    assert [(u.user_id, u.activity) for u in users] == [(i.user_id, i.activity) for i in user_identities(100, 8)]
    assert len({u.user_id for u in users}) == 100


def test_rows_satisfy_the_users_table() -> None:
    for user in generate_offline_users(500, seed=1):
        assert user.source == OFFLINE_SOURCE
        assert user.gender in {"female", "male"}
        assert user.nat in NATIONALITIES and user.country == NATIONALITIES[user.nat][1]
        assert 18 <= user.age < 80 and user.activity >= 1.0
        assert user.registered_at.tzinfo is UTC
        assert user.email.endswith("@example.com") and user.username in user.email
        assert all([user.first_name, user.last_name, user.username])


def test_activity_is_skewed() -> None:
    weights = sorted((i.activity for i in user_identities(5000, 42)), reverse=True)
    top_fifth = sum(weights[:1000]) / sum(weights)
    assert top_fifth > 0.6  # Pareto 1.16: the top 20% of users hold about 80% of the activity
