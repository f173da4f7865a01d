# A Flink session cluster from the distribution inside the apache-flink PyPI package:
#   <prefix>-flink-jobmanager       REST API / web UI published on stack.bind_address:rest_port
#   <prefix>-flink-taskmanager-N    taskmanager_count containers, task_slots each
#   <prefix>-flink-job              submits flink_job/main.py, healthy only while the job is RUNNING;
#                                   on stop it takes a savepoint, on start it resumes from the newest
#                                   savepoint or retained checkpoint
# Checkpoints and savepoints live on the named volume <prefix>-flink-data, mounted in all of them.

locals {
  jobmanager_alias = "flink-jobmanager"
  parallelism      = coalesce(var.job_parallelism, var.taskmanager_count * var.task_slots)
  rest_url         = "http://${local.jobmanager_alias}:${var.rest_port}"

  # Flat Flink keys per role, on top of the image's defaults (docker/flink/flink.py).
  cluster_conf = {
    "jobmanager.rpc.address"              = local.jobmanager_alias
    "jobmanager.rpc.port"                 = var.rpc_port
    "rest.address"                        = local.jobmanager_alias
    "rest.port"                           = var.rest_port
    "jobmanager.memory.process.size"      = var.memory.jobmanager
    "taskmanager.memory.process.size"     = var.memory.taskmanager
    "taskmanager.memory.managed.fraction" = var.memory.managed_fraction
    "taskmanager.numberOfTaskSlots"       = var.task_slots
    "parallelism.default"                 = local.parallelism
    "taskmanager.registration.timeout"    = "5 min"
  }
  taskmanagers = var.stack.running ? var.taskmanager_count : 0

  # Docker reports durations the Go way ("6m0s"); the same spelling here keeps plans empty.
  job_start_seconds = var.job_startup_timeout + 60
  job_start_period  = local.job_start_seconds >= 60 ? "${floor(local.job_start_seconds / 60)}m${local.job_start_seconds % 60}s" : "${local.job_start_seconds}s"
  labels            = var.stack.labels

  secrets = { POSTGRES_WRITER_PASSWORD = var.postgres_writer_password }
}

module "image" {
  source = "../image"

  image = "flink"
  build = var.build
  source_patterns = [
    "docker/flink/*", "docker/common/*", "docker/build-context.sh", "requirements.lock", "pyproject.toml",
    "flink_job/**/*.py", "wikistream/**/*.py", "config/stack.env", "jars/target/flink/*.jar",
  ]
  required_patterns = ["jars/target/flink/*.jar"]
  required_hint     = "Resolve the jars first: make jars (python -m stack jars)."
  labels            = var.stack.labels
}

resource "docker_volume" "data" {
  name = "${var.stack.prefix}-flink-data"

  dynamic "labels" {
    for_each = local.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "jobmanager" {
  count = var.stack.running ? 1 : 0

  name     = "${var.stack.prefix}-flink-jobmanager"
  hostname = local.jobmanager_alias
  image    = module.image.image_id
  command  = ["jobmanager"]
  restart  = "unless-stopped"
  env      = ["FLINK_CONF_JSON=${jsonencode(local.cluster_conf)}"]

  networks_advanced {
    name    = var.stack.network
    aliases = [local.jobmanager_alias]
  }

  ports {
    internal = var.rest_port
    external = var.rest_port
    ip       = var.stack.bind_address
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/flink-data"
  }

  healthcheck {
    test         = ["CMD", "/opt/venv/bin/python", "/usr/local/lib/wikistream/flink.py", "health", "jobmanager"]
    interval     = "5s"
    timeout      = "5s"
    start_period = "2m0s"
    retries      = 3
  }

  wait                  = true
  wait_timeout          = 180
  destroy_grace_seconds = 30
  stop_timeout          = 30

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(local.labels, { "org.wikistream.service" = "flink-jobmanager" })
    content {
      label = labels.key
      value = labels.value
    }
  }
}

resource "docker_container" "taskmanager" {
  count = local.taskmanagers

  name     = "${var.stack.prefix}-flink-taskmanager-${count.index + 1}"
  hostname = "flink-taskmanager-${count.index + 1}"
  image    = module.image.image_id
  command  = ["taskmanager"]
  restart  = "unless-stopped"
  env = ["FLINK_CONF_JSON=${jsonencode(merge(local.cluster_conf, {
    "taskmanager.resource-id" = "${var.stack.prefix}-flink-taskmanager-${count.index + 1}"
  }))}"]

  networks_advanced {
    name    = var.stack.network
    aliases = ["flink-taskmanager-${count.index + 1}"]
  }

  volumes {
    volume_name    = docker_volume.data.name
    container_path = "/flink-data"
  }

  healthcheck {
    test         = ["CMD", "/opt/venv/bin/python", "/usr/local/lib/wikistream/flink.py", "health", "taskmanager"]
    interval     = "5s"
    timeout      = "5s"
    start_period = "2m0s"
    retries      = 3
  }

  wait                  = true
  wait_timeout          = 180
  destroy_grace_seconds = 30
  stop_timeout          = 30

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(local.labels, { "org.wikistream.service" = "flink-taskmanager" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [docker_container.jobmanager]
}

resource "docker_container" "job" {
  count = var.stack.running ? 1 : 0

  name     = "${var.stack.prefix}-flink-job"
  hostname = "flink-job"
  image    = module.image.image_id
  command  = ["job"]
  restart  = "unless-stopped"

  env = [
    "FLINK_CONF_JSON=${jsonencode(local.cluster_conf)}",
    "FLINK_REST_URL=${local.rest_url}",
    "JOB_STARTUP_TIMEOUT=${var.job_startup_timeout}",
    # flink_job/settings.py
    "FLINK_JOB_NAME=${var.job.name}",
    "JOB_PARALLELISM=${local.parallelism}",
    "KAFKA_BOOTSTRAP_SERVERS=${var.job.kafka_bootstrap_servers}",
    "KAFKA_TOPIC=${var.job.kafka_topic}",
    "POSTGRES_JDBC_URL=${var.job.postgres_jdbc_url}",
    "POSTGRES_WRITER_USER=${var.job.postgres_writer_user}",
    "WIKISTREAM_SECRETS_DIR=/run/secrets",
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
    container_path = "/flink-data"
  }

  # Healthy only while the job and every one of its tasks is RUNNING: `apply` returns then.
  healthcheck {
    test         = ["CMD", "/opt/venv/bin/python", "/usr/local/lib/wikistream/flink.py", "health", "job"]
    interval     = "5s"
    timeout      = "10s"
    start_period = local.job_start_period
    retries      = 3
  }

  wait         = true
  wait_timeout = var.job_startup_timeout + 120
  # Time for the stop-with-savepoint on `down`, before the cluster itself is stopped.
  destroy_grace_seconds = 150
  stop_timeout          = 150

  log_driver = "json-file"
  log_opts   = { "max-size" = "10m", "max-file" = "3" }

  dynamic "labels" {
    for_each = merge(local.labels, { "org.wikistream.service" = "flink-job" })
    content {
      label = labels.key
      value = labels.value
    }
  }

  depends_on = [docker_container.jobmanager, docker_container.taskmanager, var.job_after]
}
