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
  description = "Host port PostgreSQL is published on (stack.bind_address:host_port)."
  type        = number

  validation {
    condition     = var.host_port >= 1 && var.host_port <= 65535
    error_message = "host_port must be a TCP port (1-65535)."
  }
}

variable "container_port" {
  description = "Port PostgreSQL listens on inside the container network (the other containers connect to it)."
  type        = number

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535
    error_message = "container_port must be a TCP port (1-65535)."
  }
}

variable "database" {
  description = "The analytics database; created on first start, sql/ applied to it on every start."
  type        = string

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.database))
    error_message = "database must be a lower-case SQL identifier of at most 63 characters."
  }
}

variable "admin_user" {
  description = "Owner role created by initdb (the superuser): POSTGRES_ADMIN_USER of config/stack.env."
  type        = string

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_]{0,62}$", var.admin_user))
    error_message = "admin_user must be a lower-case SQL identifier."
  }
}

variable "passwords" {
  description = "Passwords of the admin, seeder (the producer), writer (the Flink job) and reader (dashboards) roles."
  type = object({
    admin  = string
    seeder = string
    writer = string
    reader = string
  })
  sensitive = true

  validation {
    condition     = alltrue([for password in values(var.passwords) : length(password) >= 12])
    error_message = "Every password must have at least 12 characters."
  }
}

variable "retention_days" {
  description = "Days each retention class of sql/006_retention.sql keeps: raw rows and aggregates (RETENTION_RAW_DAYS, RETENTION_AGGREGATE_DAYS of config/stack.env)."
  type = object({
    raw       = number
    aggregate = number
  })

  validation {
    condition     = alltrue([for days in values(var.retention_days) : days >= 1 && days <= 3650 && floor(days) == days])
    error_message = "Every retention is a whole number of days from 1 to 3650."
  }
}
