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

  # The cluster's shape, by the names of config/stack.env: docker/flink/flink.py renders config.yaml
  # from them with wikistream/flink_config.py, as the embedded stack does.
  cluster_env = [
    "FLINK_JOBMANAGER_HOST=${local.jobmanager_alias}",
    "FLINK_RPC_PORT=${var.rpc_port}",
    "FLINK_REST_PORT=${var.rest_port}",
    "FLINK_TASK_SLOTS=${var.task_slots}",
    "JOB_PARALLELISM=${local.parallelism}",
    "FLINK_JOBMANAGER_MEMORY=${var.memory.jobmanager}",
    "FLINK_TASKMANAGER_MEMORY=${var.memory.taskmanager}",
    "FLINK_MANAGED_MEMORY_FRACTION=${var.memory.managed_fraction}",
  ]
  volumes = [{ volume_name = docker_volume.data.name, container_path = "/flink-data" }]

  # Docker reports durations the Go way ("6m0s"); the same spelling here keeps plans empty.
  job_start_seconds = var.job_startup_timeout + 60
  job_start_period  = local.job_start_seconds >= 60 ? "${floor(local.job_start_seconds / 60)}m${local.job_start_seconds % 60}s" : "${local.job_start_seconds}s"
  labels            = var.stack.labels
  # The health check of each role: `flink.py health ROLE` (docker/flink/flink.py).
  health = ["CMD", "/opt/venv/bin/python", "/usr/local/lib/wikistream/flink.py", "health"]

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

module "jobmanager" {
  source = "../container"

  stack       = var.stack
  name        = "flink-jobmanager"
  hostname    = local.jobmanager_alias
  aliases     = [local.jobmanager_alias]
  image       = module.image.image_id
  command     = ["jobmanager"]
  env         = local.cluster_env
  ports       = [{ internal = var.rest_port, external = var.rest_port }]
  volumes     = local.volumes
  healthcheck = { test = concat(local.health, ["jobmanager"]) }
}

moved {
  from = docker_container.jobmanager
  to   = module.jobmanager.docker_container.this
}

module "taskmanager" {
  source = "../container"

  stack    = var.stack
  name     = "flink-taskmanager"
  hostname = "flink-taskmanager"
  numbered = true
  replicas = var.taskmanager_count
  image    = module.image.image_id
  command  = ["taskmanager"]
  env_per_replica = [
    for n in range(1, var.taskmanager_count + 1) :
    concat(local.cluster_env, ["FLINK_TASKMANAGER_RESOURCE_ID=${var.stack.prefix}-flink-taskmanager-${n}"])
  ]
  volumes     = local.volumes
  healthcheck = { test = concat(local.health, ["taskmanager"]) }

  depends_on = [module.jobmanager]
}

moved {
  from = docker_container.taskmanager
  to   = module.taskmanager.docker_container.this
}

module "job" {
  source = "../container"

  stack    = var.stack
  name     = "flink-job"
  hostname = "flink-job"
  image    = module.image.image_id
  command  = ["job"]
  env = concat(local.cluster_env, [
    "JOB_STARTUP_TIMEOUT=${var.job_startup_timeout}",
    # flink_job/settings.py (JOB_PARALLELISM is in cluster_env)
    "FLINK_JOB_NAME=${var.job.name}",
    "KAFKA_BOOTSTRAP_SERVERS=${var.job.kafka_bootstrap_servers}",
    "KAFKA_TOPIC=${var.job.kafka_topic}",
    "POSTGRES_JDBC_URL=${var.job.postgres_jdbc_url}",
    "POSTGRES_WRITER_USER=${var.job.postgres_writer_user}",
    "WIKISTREAM_SECRETS_DIR=/run/secrets",
    "MAINTENANCE_INTERVAL_S=${var.maintenance_interval_s}",
  ])
  secrets = local.secrets
  volumes = local.volumes
  # Healthy only while the job and every one of its tasks is RUNNING: `apply` returns then.
  healthcheck  = { test = concat(local.health, ["job"]), timeout = "10s", start_period = local.job_start_period }
  wait_timeout = var.job_startup_timeout + 120
  # Time for the stop-with-savepoint on `down`, before the cluster itself is stopped.
  stop_timeout = 150

  depends_on = [module.jobmanager, module.taskmanager, var.job_after]
}

moved {
  from = docker_container.job
  to   = module.job.docker_container.this
}
