"""Apache Kafka for the embedded stack: one KRaft node (broker + controller) from the resolved jars."""

from __future__ import annotations

import base64
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

from stack.preflight import PrerequisiteError, wait_for_port
from stack.process import ManagedProcess
from wikistream.layout import KAFKA_JARS_DIR, Layout
from wikistream.settings import REPO_ROOT

SHARED_BROKER_PROPERTIES = REPO_ROOT / "config" / "kafka-broker.properties"
# The topic tool the Kafka image compiles at build time; Java runs a single source file as it is.
TOPIC_TOOL = REPO_ROOT / "wikistream" / "KafkaTopicInit.java"

LOG4J2_CONFIG = """\
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
"""


class EmbeddedKafka:
    def __init__(self, layout: Layout, port: int, controller_port: int, heap: str, retention: dict[str, str]) -> None:
        self.layout = layout
        # Broker properties of the topic's retention (StackSettings.kafka_retention_properties).
        self.retention = retention
        self.port = port
        self.controller_port = controller_port
        self.heap = heap
        self.home = layout.kafka_dir
        self.process = ManagedProcess("kafka", layout.run_dir, layout.log_dir)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def _properties_file(self) -> Path:
        return self.home / "server.properties"

    def _write_config(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        properties = {
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(self.home / "data"),
            **self.retention,
        }
        rendered = "".join(f"{key}={value}\n" for key, value in properties.items())
        self._properties_file.write_text(rendered + SHARED_BROKER_PROPERTIES.read_text())
        (self.home / "log4j2.properties").write_text(LOG4J2_CONFIG)

    def _java(self, main_class: str, *args: str) -> list[str]:
        if not any(KAFKA_JARS_DIR.glob("kafka_*.jar")):
            raise PrerequisiteError(f"the Kafka jars are missing in {KAFKA_JARS_DIR}: run 'make jars'.")
        return [
            "java",
            f"-Xms{self.heap}",
            f"-Xmx{self.heap}",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
            "-cp",
            f"{KAFKA_JARS_DIR}/*",
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Given as --cluster-id=ID: one id in 64 begins with '-', which the parser took for an option.
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(self._properties_file)
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise PrerequisiteError(
                f"formatting Kafka storage failed: {(result.stderr or result.stdout).strip()[-500:]}"
            )

    def prepare(self) -> None:
        """Configuration written and storage formatted (once): what must hold before every start."""
        self._write_config()
        self._format_storage()

    def command(self) -> list[str]:
        return self._java("kafka.Kafka", str(self._properties_file))

    def start(self, timeout: float = 90.0) -> None:
        """Start the broker directly (tests; the stack starts it under its supervisor)."""
        if not self.process.is_running():
            self.prepare()
            self.process.start(self.command())
        self.wait_ready(timeout, self.process.is_running)

    def wait_ready(self, timeout: float, alive: Callable[[], bool]) -> None:
        wait_for_port(self.port, "Kafka", timeout, alive=alive)

    def stop(self) -> bool:
        return self.process.stop(timeout=60)

    def ensure_topic(self, topic: str, partitions: int, timeout_s: int = 120) -> bool:
        """Create the topic if it does not exist (the Kafka image's tool, run from source); True when created."""
        result = subprocess.run(
            [
                "java",
                "-Xmx128m",
                f"-Dlog4j2.configurationFile={self.home / 'log4j2.properties'}",
                "-cp",
                f"{KAFKA_JARS_DIR}/*",
                str(TOPIC_TOOL),
                self.bootstrap,
                topic,
                str(partitions),
                str(timeout_s),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout_s + 60,
        )
        if result.returncode != 0:
            raise PrerequisiteError(
                f"creating the Kafka topic '{topic}' failed: {(result.stderr or result.stdout).strip()[-500:]}"
            )
        return f"topic '{topic}' created with " in result.stdout
