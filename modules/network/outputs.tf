output "name" {
  description = "Name of the network; service modules attach their containers to it."
  value       = docker_network.this.name
}

output "id" {
  description = "ID of the network."
  value       = docker_network.this.id
}
