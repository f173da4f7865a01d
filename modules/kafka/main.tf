# Apache Kafka, one KRaft node (broker + controller), data on a named volume.
# Listeners: INTERNAL kafka:29092 for containers on the stack's network, EXTERNAL published on
# the host (bind_address:host_port), CONTROLLER inside the container only.

locals {
  internal_port = 29092
  alias         = "kafka"
}

module "image" {
  source = "../image"

  image = "kafka"
  build = var.build
  source_patterns = [
    "docker/kafka/*", "docker/build-context.sh", "jars/target/kafka/*.jar",
    "config/kafka-broker.properties", "wikistream/KafkaTopicInit.java",
  ]
  required_patterns = ["jars/target/kafka/*.jar"]
  required_hint     = "Resolve the jars first: make jars (python -m stack jars)."
  labels            = var.stack.labels
}

resource "docker_volume" "data" {
  name = "${var.stack.prefix}-kafka-data"

  dynamic "labels" {
    for_each = var.stack.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

module "container" {
  source = "../container"

  stack    = var.stack
  name     = "kafka"
  hostname = local.alias
  aliases  = [local.alias]
  image    = module.image.image_id
  env = [
    "KAFKA_TOPIC=${var.topic}",
    "KAFKA_TOPIC_PARTITIONS=${var.topic_partitions}",
    "KAFKA_HEAP=${var.heap}",
    "KAFKA_INTERNAL_HOST=${local.alias}",
    "KAFKA_INTERNAL_PORT=${local.internal_port}",
    "KAFKA_EXTERNAL_PORT=${var.host_port}",
    "KAFKA_EXTERNAL_ADVERTISED=${var.advertised_host}:${var.host_port}",
    "KAFKA_CONTROLLER_PORT=${var.controller_port}",
    "KAFKA_RETENTION_HOURS=${var.retention.hours}",
    "KAFKA_RETENTION_BYTES=${var.retention.bytes}",
    "KAFKA_SEGMENT_BYTES=${var.retention.segment_bytes}",
  ]
  ports        = [{ internal = var.host_port, external = var.host_port }]
  volumes      = [{ volume_name = docker_volume.data.name, container_path = "/var/lib/kafka/data" }]
  healthcheck  = { test = ["CMD", "/opt/kafka/healthcheck.sh"] }
  stop_timeout = 60
}

moved {
  from = docker_container.kafka
  to   = module.container.docker_container.this
}
