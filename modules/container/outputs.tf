output "names" {
  description = "Names of the containers (empty while the stack is down or the service disabled)."
  value       = docker_container.this[*].name
}

output "ids" {
  description = "Ids of the containers."
  value       = docker_container.this[*].id
}
