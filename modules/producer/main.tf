# The click producer (python -m producer): seeds the users table, then streams clicks to Kafka.
# Healthy once the users are seeded and the stream runs; its data set and model cache are kept on
# the named volume <prefix>-producer-data.

locals {
  secrets = { POSTGRES_PASSWORD = var.postgres_password }
}

module "image" {
  source = "../image"

  image = "producer"
  build = var.build
  source_patterns = [
    "docker/producer/*", "docker/common/*", "docker/build-context.sh", "requirements.lock", "pyproject.toml",
    "producer/**/*.py", "wikistream/**/*.py", "config/stack.env",
  ]
  labels = var.stack.labels
}

resource "docker_volume" "data" {
  name = "${var.stack.prefix}-producer-data"

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
  name     = "producer"
  hostname = "producer"
  image    = module.image.image_id
  env = [
    "KAFKA_BOOTSTRAP_SERVERS=${var.kafka.bootstrap_servers}",
    "KAFKA_TOPIC=${var.kafka.topic}",
    "POSTGRES_HOST=${var.postgres.host}",
    "POSTGRES_PORT=${var.postgres.port}",
    "POSTGRES_DB=${var.postgres.database}",
    "POSTGRES_USER=${var.postgres.user}",
    "WIKISTREAM_SECRETS_DIR=/run/secrets",
    "PRODUCER_RATE=${var.rate}",
    "USERS_COUNT=${var.users_count}",
    "PRODUCER_USER_SOURCE=${var.user_source}",
  ]
  # The entrypoint and the Python settings read /run/secrets/<VARIABLE>.
  secrets      = local.secrets
  volumes      = [{ volume_name = docker_volume.data.name, container_path = "/data" }]
  healthcheck  = { test = ["CMD", "/usr/local/bin/healthcheck.sh"], interval = "3s", start_period = "5m0s" }
  wait_timeout = 360
  stop_timeout = 20

  depends_on = [var.start_after]
}

moved {
  from = docker_container.producer
  to   = module.container.docker_container.this
}
