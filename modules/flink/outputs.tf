output "rest_url" {
  description = "Flink web UI / REST API on the host."
  value       = "http://${var.stack.bind_address == "0.0.0.0" ? "127.0.0.1" : var.stack.bind_address}:${var.rest_port}"
}

output "parallelism" {
  description = "Parallelism the job runs with."
  value       = local.parallelism
}

output "container_names" {
  description = "Names of the JobManager, TaskManager and job containers (empty while the stack is down)."
  value = concat(
    module.jobmanager.names,
    module.taskmanager.names,
    module.job.names,
  )
}

output "job_container_id" {
  description = "ID of the job submitter container, once the job is RUNNING (null while the stack is down)."
  value       = one(module.job.ids)
}

output "volume_name" {
  description = "Named volume holding checkpoints and savepoints."
  value       = docker_volume.data.name
}

output "image" {
  description = "Name of the Flink image."
  value       = module.image.name
}
