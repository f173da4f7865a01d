"""The producer's configuration: environment variables, with defaults from config/stack.env.

| variable                         | default                                  |
| -------------------------------- | ---------------------------------------- |
| POSTGRES_HOST                    | 127.0.0.1                                |
| POSTGRES_PORT                    | POSTGRES_PORT of config/stack.env        |
| POSTGRES_DB                      | POSTGRES_DB of config/stack.env          |
| POSTGRES_USER                    | wikistream_seeder (seeds and reads users) |
| POSTGRES_PASSWORD                | empty (libpq then tries ~/.pgpass); or the file                  |
|                                  | WIKISTREAM_SECRETS_DIR/POSTGRES_PASSWORD                         |
| KAFKA_BOOTSTRAP_SERVERS          | 127.0.0.1:KAFKA_PORT of config/stack.env |
| KAFKA_TOPIC                      | KAFKA_TOPIC of config/stack.env          |
| KAFKA_CONNECT_ATTEMPTS           | 5 (back-off 1, 2, 4, 8 s between them)   |
| PRODUCER_KAFKA_CLIENT            | kafka-python (or confluent-kafka; `run --client`) |
| PRODUCER_MAX_IN_FLIGHT           | 20000: events sent and not yet acknowledged, at most; |
|                                  | beyond it the run waits for Kafka (backpressure)       |
| PRODUCER_DELIVERY_TIMEOUT_S      | 86400: how long the client retries one event before   |
|                                  | it fails (a journaled run then sends it again)        |
| USERS_COUNT                      | USERS_COUNT of config/stack.env          |
| RANDOMUSER_API_URL               | https://randomuser.me/api/               |
| RANDOMUSER_ATTEMPTS              | 4 per page (back-off 1, 2, 4 s)          |
| PRODUCER_DATA_DIR                | WIKISTREAM_STATE_DIR/data (synthetic dataset, model cache) |
| PRODUCER_JOURNAL                 | none: a run is not resumable (the stacks set one) |
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from wikistream.postgres import SEEDER_USER, libpq_dsn
from wikistream.settings import SECRETS_DIR, stack_settings


class KafkaClient(StrEnum):
    """The Kafka client library the producer sends with (producer/sinks.py)."""

    # The design card's client: pure Python, so it shares the GIL with the simulation.
    KAFKA_PYTHON = "kafka-python"
    # librdkafka: batching, checksums and the network run on its own threads, outside the GIL.
    CONFLUENT_KAFKA = "confluent-kafka"


class ProducerSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True, secrets_dir=SECRETS_DIR)

    postgres_host: str = Field(default="127.0.0.1", alias="POSTGRES_HOST")
    postgres_port: int = Field(default_factory=lambda: stack_settings().postgres_port, alias="POSTGRES_PORT")
    postgres_db: str = Field(default_factory=lambda: stack_settings().postgres_db, alias="POSTGRES_DB")
    postgres_user: str = Field(default=SEEDER_USER, alias="POSTGRES_USER")
    postgres_password: str = Field(default="", alias="POSTGRES_PASSWORD")

    kafka_bootstrap_servers: str = Field(
        default_factory=lambda: stack_settings().kafka_bootstrap, alias="KAFKA_BOOTSTRAP_SERVERS"
    )
    kafka_topic: str = Field(default_factory=lambda: stack_settings().kafka_topic, alias="KAFKA_TOPIC")
    kafka_connect_attempts: int = Field(default=5, ge=1, alias="KAFKA_CONNECT_ATTEMPTS")
    kafka_client: KafkaClient = Field(default=KafkaClient.KAFKA_PYTHON, alias="PRODUCER_KAFKA_CLIENT")
    # Memory stays bounded whatever Kafka does: past this many unacknowledged events the run waits.
    max_in_flight: int = Field(default=20_000, ge=1, alias="PRODUCER_MAX_IN_FLIGHT")
    # The client retries an event this long (a Kafka outage of hours is ridden out in order, without
    # duplicates); past it the event fails, and a journaled run sends it again (producer/recovery.py).
    # At least kafka-python's request timeout (30 s) and linger, as it demands.
    delivery_timeout_s: float = Field(default=86_400.0, ge=31.0, alias="PRODUCER_DELIVERY_TIMEOUT_S")

    users_count: int = Field(default_factory=lambda: stack_settings().users_count, ge=1, alias="USERS_COUNT")
    randomuser_api_url: str = Field(default="https://randomuser.me/api/", alias="RANDOMUSER_API_URL")
    randomuser_attempts: int = Field(default=4, ge=1, alias="RANDOMUSER_ATTEMPTS")
    data_dir: Path = Field(default_factory=lambda: stack_settings().state_path / "data", alias="PRODUCER_DATA_DIR")
    # A killed `run` started again with the same journal resumes its run (producer/journal.py).
    journal: Path | None = Field(default=None, alias="PRODUCER_JOURNAL")

    @property
    def postgres_dsn(self) -> str:
        return libpq_dsn(
            host=self.postgres_host,
            port=self.postgres_port,
            dbname=self.postgres_db,
            user=self.postgres_user,
            password=self.postgres_password,
        )

    @property
    def postgres_target(self) -> str:
        """Where PostgreSQL is, for messages (never the password)."""
        return f"{self.postgres_user}@{self.postgres_host}:{self.postgres_port}/{self.postgres_db}"
