locals {
  host_address = var.bind_address == "0.0.0.0" ? "127.0.0.1" : var.bind_address
}

output "name_prefix" {
  description = "Prefix of every container, volume and network (label org.wikistream.project)."
  value       = var.name_prefix
}

output "running" {
  description = "Whether the containers are meant to run (false after make down)."
  value       = var.running
}

output "flink_ui_url" {
  description = "Flink web UI and REST API."
  value       = module.flink.rest_url
}

output "metabase_url" {
  description = "Metabase (null when enable_metabase = false)."
  value       = module.metabase.url
}

output "kafka_bootstrap_servers" {
  description = "Kafka for clients on the host (the external listener)."
  value       = module.kafka.bootstrap_external
}

output "kafka_topic" {
  description = "Topic the producer writes and the job reads."
  value       = local.s["KAFKA_TOPIC"]
}

output "flink_job_name" {
  description = "Name of the Flink job."
  value       = local.s["FLINK_JOB_NAME"]
}

output "postgres" {
  description = "How to connect to PostgreSQL from the host (passwords: output postgres_passwords)."
  value = {
    host     = local.host_address
    port     = module.postgres.host_port
    database = module.postgres.database
    users = {
      admin  = module.postgres.admin_user
      seeder = local.seeder_user
      writer = local.writer_user
      reader = local.reader_user
    }
    psql = "psql -h ${local.host_address} -p ${module.postgres.host_port} -U ${local.reader_user} ${module.postgres.database}  # password: terraform output -json postgres_passwords"
  }
}

output "postgres_passwords" {
  description = "Passwords of the PostgreSQL roles (admin, seeder, writer, reader)."
  value       = local.postgres_passwords
  sensitive   = true
}

output "postgres_admin_dsn" {
  description = "libpq connection string of the owner role, from the host (the password quoted as libpq wants, SCRAM required)."
  value       = "host=${local.host_address} port=${module.postgres.host_port} dbname=${module.postgres.database} user=${module.postgres.admin_user} password='${replace(replace(local.postgres_passwords.admin, "\\", "\\\\"), "'", "\\'")}' require_auth=scram-sha-256"
  sensitive   = true
}

output "metabase_database_connection" {
  description = "What to enter in Metabase for the analytics database (from inside the stack's network, read-only role)."
  value = {
    engine   = "postgres"
    host     = module.postgres.internal_host
    port     = module.postgres.internal_port
    database = module.postgres.database
    user     = local.reader_user
    password = local.postgres_passwords.reader
  }
  sensitive = true
}

output "containers" {
  description = "Container names by service (empty while the stack is down)."
  value = {
    for service, name in {
      postgres = module.postgres.container_name
      kafka    = module.kafka.container_name
      producer = module.producer.container_name
      metabase = module.metabase.container_name
    } : service => name if name != null
  }
}

output "flink_containers" {
  description = "Flink container names: JobManager, TaskManagers, job submitter."
  value       = module.flink.container_names
}

output "volumes" {
  description = "Named volumes holding the stack's data; make down keeps them, make destroy removes them."
  value = compact([
    module.postgres.volume_name,
    module.kafka.volume_name,
    module.flink.volume_name,
    module.producer.volume_name,
    module.metabase.volume_name,
  ])
}

output "network" {
  description = "The stack's Docker network."
  value       = module.network.name
}

output "images" {
  description = "Images the stack built (kept on destroy unless keep_images = false)."
  value = {
    postgres = module.postgres.image
    kafka    = module.kafka.image
    flink    = module.flink.image
    producer = module.producer.image
  }
}
