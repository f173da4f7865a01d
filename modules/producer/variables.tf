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

variable "kafka" {
  description = "Where the clicks go: bootstrap servers on the stack's network and the topic."
  type = object({
    bootstrap_servers = string
    topic             = string
  })
}

variable "postgres" {
  description = "The database the users are seeded into (host and port on the stack's network)."
  type = object({
    host     = string
    port     = number
    database = string
    user     = string
  })
}

variable "postgres_password" {
  description = "Password of postgres.user."
  type        = string
  sensitive   = true
}

variable "rate" {
  description = "Clicks per second."
  type        = number

  validation {
    condition     = var.rate > 0
    error_message = "rate must be positive."
  }
}

variable "users_count" {
  description = "Users seeded into the users table before streaming."
  type        = number

  validation {
    condition     = var.users_count >= 1 && var.users_count <= 1000000 && floor(var.users_count) == var.users_count
    error_message = "users_count must be a whole number from 1 to 1000000."
  }
}

variable "user_source" {
  description = "Where users come from: auto (Random User API, offline fallback), api, or offline (Faker)."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "api", "offline"], var.user_source)
    error_message = "user_source must be auto, api or offline."
  }
}

variable "start_after" {
  description = "IDs the producer waits for (healthy Kafka and PostgreSQL)."
  type        = list(string)
  default     = []
}
