variable "stack" {
  description = "What every service of the stack shares: name prefix, network, whether containers run (false = `down`: containers removed, volumes kept), labels, and the host address published ports bind to."
  type = object({
    prefix       = string
    network      = string
    running      = bool
    labels       = map(string)
    bind_address = string
  })

  validation {
    condition     = can(cidrhost("${var.stack.bind_address}/32", 0))
    error_message = "stack.bind_address must be an IPv4 address, e.g. 127.0.0.1 (local only) or 0.0.0.0 (every interface)."
  }
}

variable "build" {
  description = "How the service's image is built: see modules/image (repo_root, base_image, extra_ca_cert_path, build_dir, namespace, keep_locally, legacy_builder)."
  type = object({
    repo_root          = string
    base_image         = string
    extra_ca_cert_path = string
    build_dir          = string
    namespace          = string
    keep_locally       = bool
    legacy_builder     = bool
  })
}

variable "host_port" {
  description = "Host port of the EXTERNAL listener (published on stack.bind_address), for clients on the host."
  type        = number

  validation {
    condition     = var.host_port >= 1 && var.host_port <= 65535
    error_message = "host_port must be a TCP port (1-65535)."
  }
}

variable "controller_port" {
  description = "Port of the KRaft controller listener inside the container (not published)."
  type        = number

  validation {
    condition     = var.controller_port >= 1 && var.controller_port <= 65535
    error_message = "controller_port must be a TCP port (1-65535)."
  }
}

variable "advertised_host" {
  description = "Host name clients on the host use for the EXTERNAL listener."
  type        = string
  default     = "127.0.0.1"
}

variable "topic" {
  description = "Topic created before the broker reports healthy."
  type        = string

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]{1,249}$", var.topic))
    error_message = "topic must be 1-249 characters of letters, digits, '.', '_' and '-'."
  }
}

variable "topic_partitions" {
  description = "Partitions of the topic."
  type        = number

  validation {
    condition     = var.topic_partitions >= 1 && var.topic_partitions <= 64 && floor(var.topic_partitions) == var.topic_partitions
    error_message = "topic_partitions must be a whole number from 1 to 64."
  }
}

variable "heap" {
  description = "JVM heap of the broker (-Xms/-Xmx); KAFKA_HEAP of config/stack.env."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+[mg]$", var.heap))
    error_message = "heap must look like 512m or 1g."
  }
}

variable "retention" {
  description = "What the broker keeps per partition: hours (RETENTION_RAW_DAYS x 24), bytes (KAFKA_RETENTION_BYTES) and the segment size it deletes by (KAFKA_SEGMENT_BYTES)."
  type = object({
    hours         = number
    bytes         = number
    segment_bytes = number
  })

  validation {
    condition     = var.retention.hours >= 1 && var.retention.bytes >= 1048576 && var.retention.segment_bytes >= 1048576 && var.retention.segment_bytes <= 1073741824
    error_message = "retention needs at least 1 hour, at least 1 MiB, and segments of 1 MiB to 1 GiB."
  }
}
