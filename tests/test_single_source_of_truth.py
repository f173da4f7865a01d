"""Versions typed in config/stack.env must be the ones every other file actually uses."""

from __future__ import annotations

import os
import re
import subprocess

from wikistream.settings import REPO_ROOT, stack_settings


def test_apache_flink_pin_matches_the_flink_version() -> None:
    version = stack_settings().flink_version
    pyproject = (REPO_ROOT / "pyproject.toml").read_text()
    lock = (REPO_ROOT / "requirements.lock").read_text()
    assert re.search(rf'"apache-flink=={re.escape(version)}"', pyproject)
    assert re.search(rf"^apache-flink=={re.escape(version)} ", lock, re.MULTILINE)


def test_connector_lines_are_built_for_the_flink_minor() -> None:
    settings = stack_settings()
    minor = ".".join(settings.flink_version.split(".")[:2])
    for connector in (settings.flink_kafka_connector_version, settings.flink_jdbc_connector_version):
        assert connector.endswith(f"-{minor}"), f"{connector} is not built for Flink {minor}"


def _make_prints(variables: str, env: dict[str, str]) -> list[str]:
    makefile = (REPO_ROOT / "Makefile").read_text() + f"\nshow-vars:\n\t@echo {variables}\n"
    return subprocess.run(
        ["make", "-s", "--no-print-directory", "-f", "-", "show-vars"],
        input=makefile,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        check=True,
    ).stdout.split()


def test_makefile_reads_the_same_file() -> None:
    env = {key: value for key, value in os.environ.items() if key not in ("KAFKA_TOPIC", "FLINK_REST_PORT")}
    settings = stack_settings()
    assert _make_prints("$(KAFKA_TOPIC) $(FLINK_REST_PORT)", env) == [
        settings.kafka_topic,
        str(settings.flink_rest_port),
    ]


def test_environment_overrides_the_file_in_make_as_in_python() -> None:
    env = dict(os.environ) | {"FLINK_REST_PORT": "18081"}
    assert _make_prints("$(FLINK_REST_PORT) $${FLINK_REST_PORT}", env) == ["18081", "18081"]


README_VERSIONS = {
    "Flink (PyFlink)": "FLINK_VERSION",
    "Kafka": "KAFKA_VERSION",
    "PostgreSQL JDBC": "POSTGRES_JDBC_VERSION",
    "Metabase": "METABASE_VERSION",
}


def test_the_readme_versions_table_says_what_config_stack_env_pins() -> None:
    section = (REPO_ROOT / "README.md").read_text().split("## Versions", 1)[1].split("\n## ", 1)[0]
    rows = {
        cells[0]: cells[1]
        for line in section.splitlines()
        if line.startswith("| ") and len(cells := [cell.strip() for cell in line.strip("|").split("|")]) >= 2
    }
    pinned = stack_settings().model_dump()
    for component, key in README_VERSIONS.items():
        assert component in rows, f"the README's versions table has no row for {component}"
        assert rows[component].split()[0] == pinned[key.lower()], f"README says {rows[component]!r}, {key} pins"


def test_the_sql_grants_exactly_the_roles_config_stack_env_names() -> None:
    from wikistream.postgres import ADMIN_USER, METABASE_APP_USER, READER_USER, SEEDER_USER, WRITER_USER

    components = {SEEDER_USER, WRITER_USER, READER_USER}
    sql_text = "\n".join(path.read_text() for path in sorted((REPO_ROOT / "sql").glob("*.sql")))
    named_in_sql = set(re.findall(r"\bwikistream_[a-z]+\b", sql_text))
    # The admin is initdb's role, Metabase's is made by stack/metabase.py: sql/ names neither.
    assert named_in_sql == components, "sql/ and config/stack.env disagree on the role names"
    created = re.search(
        r"FOREACH role_name IN ARRAY ARRAY\[([^\]]*)\]", (REPO_ROOT / "sql" / "001_roles.sql").read_text()
    )
    assert created is not None
    assert set(re.findall(r"'([a-z_]+)'", created.group(1))) == components
    assert len({ADMIN_USER, METABASE_APP_USER, *components}) == 5


def test_terraform_takes_the_role_names_from_config_stack_env() -> None:
    main_tf = (REPO_ROOT / "terraform" / "main.tf").read_text()
    for role in ("ADMIN", "SEEDER", "WRITER", "READER"):
        assert f'local.stack_env["POSTGRES_{role}_USER"]' in main_tf
    typed = re.findall(r'"wikistream_[a-z]+"', "".join(p.read_text() for p in REPO_ROOT.glob("*/**/*.tf")))
    assert typed == [], f"role names typed in Terraform: {typed}"
