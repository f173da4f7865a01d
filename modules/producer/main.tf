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

resource "docker_container" "producer" {
  count = var.stack.running ? 1 : 0

  name     = "${var.stack.prefix}-producer"
  hostname = "producer"
  image    = module.image.image_id
  restart  = "unless-stopped"

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

  # Passwords as read-only files, not environment variables (docker inspect shows those): the
  # entrypoint and the Python settings read /run/secrets/<VARIABLE>. Root's and readable inside the
  # container only (this provider build ignores an upload's owner, so 0400 would lock the service out).
  dynamic "upload" {
    for_each = toset(keys(local.secrets))
    content {
      file        = "/run/secrets/${upload.key}"
      content     = local.secrets[upload.key]
      permissions = "0444"
    }
  }

  networks_advanced {
    name = var.stack.network
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/data"
  }

  healthcheck {
    test         = ["CMD", "/usr/local/bin/healthcheck.sh"]
    interval     = "3s"
    timeout      = "5s"
    start_period = "5m0s"
    retries      = 3
  }

  wait                  = true
  wait_timeout          = 360
  destroy_grace_seconds = 20
  stop_timeout          = 20

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(var.stack.labels, { "org.wikistream.service" = "producer" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [var.start_after]
}
