"""Every value the job puts into Flink DDL reaches Flink as written: quoted by one function, sql_string.

The job's own DDL (source, sinks, users lookup) is rendered with hostile settings (quotes,
backslashes, newlines, non-ASCII, an injection attempt) and run by a real local Flink; each table's
options are then read back from Flink's catalog.
"""

from __future__ import annotations

import pytest

from flink_job.pipeline import sink_ddls, source_ddl, users_ddl
from flink_job.settings import JobSettings
from flink_job.validation import function_ddl

pytestmark = pytest.mark.slow

HOSTILE = [
    "it's",
    "a''b",
    "back\\slash\\'",
    "new\nline",
    "tab\there",
    "ünïcödé-パスワード-🔑",
    "x', 'connector' = 'blackhole",
]


def _catalog_options(ddls: list[str], jar_uris: list[str]) -> dict[str, dict[str, str]]:
    from pyflink.table import EnvironmentSettings, TableEnvironment
    from pyflink.table.catalog import ObjectPath

    env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    env.get_config().set("pipeline.jars", ";".join(jar_uris))
    env.execute_sql(function_ddl())
    names = []
    for ddl in ddls:
        # Permanent tables, so that the in-memory catalog keeps their options for reading back.
        statement = ddl.replace("CREATE TEMPORARY TABLE", "CREATE TABLE", 1)
        env.execute_sql(statement)
        names.append(statement.split("CREATE TABLE", 1)[1].split("(", 1)[0].strip())
    catalog = env.get_catalog(env.get_current_catalog())
    return {name: dict(catalog.get_table(ObjectPath(env.get_current_database(), name)).get_options()) for name in names}


@pytest.mark.parametrize("value", HOSTILE)
def test_every_setting_reaches_flink_as_written(value: str) -> None:
    settings = JobSettings(
        POSTGRES_WRITER_PASSWORD=value, POSTGRES_WRITER_USER=value, KAFKA_TOPIC=value, KAFKA_GROUP_ID=value
    )
    options = _catalog_options([source_ddl(settings), *sink_ddls(settings), users_ddl(settings)], settings.jar_uris())

    assert options["kafka_clicks"]["topic"] == value
    assert options["kafka_clicks"]["properties.group.id"] == value
    assert options["kafka_clicks"]["connector"] == "kafka"
    jdbc_tables = [name for name in options if name != "kafka_clicks"]
    assert len(jdbc_tables) == len(sink_ddls(settings)) + 1
    for name in jdbc_tables:
        assert (options[name]["username"], options[name]["password"]) == (value, value), name
        assert options[name]["connector"] in ("wikistream-jdbc", "jdbc"), name
