# wikistream as containers: Kafka (KRaft) -> PyFlink job on a Flink cluster -> PostgreSQL, the
# click producer, and Metabase. Start order follows health: PostgreSQL (schema applied) and Kafka
# (topic created) -> producer (users seeded) -> Flink job RUNNING; Flink's JobManager and
# TaskManagers start alongside. Every container has a health check and `wait = true`, so
# `terraform apply` returns once the whole stack is healthy and the job is RUNNING.

locals {
  repo_root = abspath("${path.module}/..")
  s         = local.settings

  labels = {
    "org.wikistream.project" = var.name_prefix
    "org.wikistream.managed" = "terraform"
  }

  stack = {
    prefix       = var.name_prefix
    network      = module.network.name
    running      = var.running
    labels       = local.labels
    bind_address = var.bind_address
  }

  build = {
    repo_root          = local.repo_root
    base_image         = coalesce(var.base_image, local.s["BASE_IMAGE"])
    extra_ca_cert_path = var.extra_ca_cert_path == "" ? "" : abspath(var.extra_ca_cert_path)
    build_dir          = "${local.repo_root}/build/docker/${var.name_prefix}"
    namespace          = var.image_namespace
    keep_locally       = var.keep_images
    legacy_builder     = var.legacy_builder
  }

  # The role names of config/stack.env, from the file alone: sql/ creates and grants these very names.
  admin_user  = local.stack_env["POSTGRES_ADMIN_USER"]
  seeder_user = local.stack_env["POSTGRES_SEEDER_USER"]
  writer_user = local.stack_env["POSTGRES_WRITER_USER"]
  reader_user = local.stack_env["POSTGRES_READER_USER"]
}

module "network" {
  source = "../modules/network"

  name   = var.name_prefix
  labels = local.labels
}

module "postgres" {
  source = "../modules/postgres"

  stack          = local.stack
  build          = local.build
  host_port      = local.numbers["POSTGRES_PORT"]
  container_port = local.numbers["POSTGRES_CONTAINER_PORT"]
  database       = local.s["POSTGRES_DB"]
  admin_user     = local.admin_user
  passwords      = local.postgres_passwords
  retention_days = { raw = local.numbers["RETENTION_RAW_DAYS"], aggregate = local.numbers["RETENTION_AGGREGATE_DAYS"] }
}

module "kafka" {
  source = "../modules/kafka"

  stack            = local.stack
  build            = local.build
  host_port        = local.numbers["KAFKA_PORT"]
  controller_port  = local.numbers["KAFKA_CONTROLLER_PORT"]
  advertised_host  = var.kafka_advertised_host
  topic            = local.s["KAFKA_TOPIC"]
  topic_partitions = local.numbers["KAFKA_TOPIC_PARTITIONS"]
  heap             = local.s["KAFKA_HEAP"]
  # As StackSettings.kafka_retention_properties renders them for the embedded broker.
  retention = {
    hours         = local.numbers["RETENTION_RAW_DAYS"] * 24
    bytes         = local.numbers["KAFKA_RETENTION_BYTES"]
    segment_bytes = local.numbers["KAFKA_SEGMENT_BYTES"]
  }
}

module "producer" {
  source = "../modules/producer"

  stack = local.stack
  build = local.build
  kafka = {
    bootstrap_servers = module.kafka.bootstrap_internal
    topic             = local.s["KAFKA_TOPIC"]
  }
  postgres = {
    host     = module.postgres.internal_host
    port     = module.postgres.internal_port
    database = module.postgres.database
    user     = local.seeder_user
  }
  postgres_password = local.postgres_passwords.seeder
  rate              = coalesce(var.producer_rate, local.numbers["PRODUCER_RATE"])
  users_count       = local.numbers["USERS_COUNT"]
  user_source       = var.producer_user_source
  start_after       = compact([module.postgres.container_id, module.kafka.container_id])
}

module "flink" {
  source = "../modules/flink"

  stack             = local.stack
  build             = local.build
  rest_port         = local.numbers["FLINK_REST_PORT"]
  rpc_port          = local.numbers["FLINK_RPC_PORT"]
  task_slots        = local.numbers["FLINK_TASK_SLOTS"]
  taskmanager_count = var.taskmanager_count
  job_parallelism   = var.job_parallelism
  memory = coalesce(var.flink_memory, {
    jobmanager       = local.s["FLINK_JOBMANAGER_MEMORY"]
    taskmanager      = local.s["FLINK_TASKMANAGER_MEMORY"]
    managed_fraction = local.numbers["FLINK_MANAGED_MEMORY_FRACTION"]
  })
  job = {
    name                    = local.s["FLINK_JOB_NAME"]
    kafka_bootstrap_servers = module.kafka.bootstrap_internal
    kafka_topic             = local.s["KAFKA_TOPIC"]
    postgres_jdbc_url       = module.postgres.jdbc_url_internal
    postgres_writer_user    = local.writer_user
  }
  postgres_writer_password = local.postgres_passwords.writer
  maintenance_interval_s   = local.numbers["MAINTENANCE_INTERVAL_S"]
  job_after                = compact([module.kafka.container_id, module.postgres.container_id, module.producer.container_id])
}

module "metabase" {
  source = "../modules/metabase"

  stack              = local.stack
  enabled            = var.enable_metabase
  image              = coalesce(var.metabase_image, "metabase/metabase:v${local.s["METABASE_VERSION"]}")
  keep_image_locally = var.keep_images
  host_port          = local.numbers["METABASE_PORT"]
  start_after        = compact([module.postgres.container_id])
}

# The dashboards, applied through Metabase's API once Metabase is healthy (docker_container waits
# for its health check), and again whenever their definitions change. The apply is idempotent.
resource "terraform_data" "dashboards" {
  count = var.enable_metabase && var.running ? 1 : 0

  triggers_replace = {
    metabase    = module.metabase.container_name
    definitions = filesha1("${local.repo_root}/dashboards/definitions/wikistream.yaml")
  }

  provisioner "local-exec" {
    working_dir = local.repo_root
    command     = "${var.python} -m dashboards apply"
    environment = {
      METABASE_URL             = module.metabase.url
      METABASE_DB_HOST         = module.postgres.internal_host
      METABASE_DB_PORT         = tostring(module.postgres.internal_port)
      POSTGRES_READER_PASSWORD = local.postgres_passwords.reader
    }
  }
}
