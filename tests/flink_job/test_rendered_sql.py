"""The job's SQL as Flink receives it, against a golden file: a change to any statement shows in review.

Regenerate after an intended change with `WIKISTREAM_UPDATE_GOLDEN=1 pytest tests/flink_job/test_rendered_sql.py`
and commit tests/flink_job/golden/job.sql with the change.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic_core import PydanticUndefined

from flink_job.pipeline import insert_statements, sink_ddls, source_ddl, users_ddl, view_ddls
from flink_job.settings import JobSettings
from flink_job.validation import function_ddl
from wikistream.settings import REPO_ROOT

GOLDEN = Path(__file__).parent / "golden" / "job.sql"
# Where the machine or the stack would show through: fixed, so the file is the same everywhere.
FIXED = {
    "FLINK_JOB_NAME": "wikistream-clicks",
    "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9092",
    "KAFKA_TOPIC": "clicks",
    "KAFKA_GROUP_ID": "wikistream-flink",
    "POSTGRES_JDBC_URL": "jdbc:postgresql://127.0.0.1:5432/wikistream",
    "POSTGRES_WRITER_PASSWORD": "<writer password>",
    "JOB_PARALLELISM": 2,
}


def _settings() -> JobSettings:
    # Every other field at its default in code, whatever the environment says.
    defaults = {
        field.alias: field.default
        for field in JobSettings.model_fields.values()
        if field.alias and field.default is not PydanticUndefined
    }
    return JobSettings(**(defaults | FIXED))


def rendered_sql() -> str:
    settings = _settings()
    statements = [
        function_ddl(),
        source_ddl(settings),
        users_ddl(settings),
        *sink_ddls(settings),
        *view_ddls(settings),
        *insert_statements(),
    ]
    return "".join(f"{statement.strip()};\n\n" for statement in statements).replace(str(REPO_ROOT), "<repo>")


def test_the_rendered_sql_is_the_reviewed_one() -> None:
    if os.environ.get("WIKISTREAM_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(rendered_sql())
    assert rendered_sql() == GOLDEN.read_text(), (
        "the job's SQL changed: review it, then WIKISTREAM_UPDATE_GOLDEN=1 pytest tests/flink_job/test_rendered_sql.py"
    )
