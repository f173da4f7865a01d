# The stack's own bridge network: containers find each other by their aliases (kafka, postgres,
# flink-jobmanager, ...), so two stacks with different name prefixes never see each other.
resource "docker_network" "this" {
  name   = var.name
  driver = "bridge"

  dynamic "labels" {
    for_each = var.labels
    content {
      label = labels.key
      value = labels.value
    }
  }
}
