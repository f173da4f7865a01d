# One source of truth: config/stack.env (versions, image tags, ports, names), read here as the
# Makefile and wikistream.settings read it; var.stack_env_overrides wins over it (the tests use it
# for free ports).

locals {
  stack_env_files = ["${path.module}/../config/stack.env"]
  stack_env_line  = "^([A-Z][A-Z0-9_]*)=(.*)$"

  stack_env = merge([
    for file in local.stack_env_files : {
      for line in split("\n", file(file)) :
      regex(local.stack_env_line, trimspace(line))[0] => trim(regex(local.stack_env_line, trimspace(line))[1], "\"'")
      if can(regex(local.stack_env_line, trimspace(line)))
    }
  ]...)

  settings = merge(local.stack_env, var.stack_env_overrides)

  # The numeric settings, decoded once: a value that is not a number fails the plan here, by key.
  numbers = {
    for key in [
      "POSTGRES_PORT", "POSTGRES_CONTAINER_PORT", "KAFKA_PORT", "KAFKA_CONTROLLER_PORT", "KAFKA_TOPIC_PARTITIONS",
      "PRODUCER_RATE", "USERS_COUNT", "FLINK_REST_PORT", "FLINK_RPC_PORT", "FLINK_TASK_SLOTS",
      "FLINK_MANAGED_MEMORY_FRACTION", "METABASE_PORT", "RETENTION_RAW_DAYS", "RETENTION_AGGREGATE_DAYS",
      "KAFKA_RETENTION_BYTES", "KAFKA_SEGMENT_BYTES", "MAINTENANCE_INTERVAL_S",
    ] : key => tonumber(local.settings[key])
  }
}
