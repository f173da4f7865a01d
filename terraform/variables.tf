variable "name_prefix" {
  description = "Prefix of every container, volume and network of the stack (and its project label). Use another one to run a second stack next to the first, e.g. in tests."
  type        = string
  default     = "wikistream"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}$", var.name_prefix))
    error_message = "name_prefix must be 2-31 characters: lower-case letters, digits and '-', starting with a letter."
  }
}

variable "running" {
  description = "true: the containers run. false (make down): the containers are removed (the Flink job stops with a savepoint first); volumes, network and images stay, so the next apply resumes with the same data."
  type        = bool
  default     = true
}

variable "bind_address" {
  description = "Host address the published ports (Flink UI, Metabase, PostgreSQL, Kafka's external listener) bind to. 127.0.0.1 keeps them local; 0.0.0.0 exposes them on every interface."
  type        = string
  default     = "127.0.0.1"

  validation {
    condition     = can(cidrhost("${var.bind_address}/32", 0))
    error_message = "bind_address must be an IPv4 address such as 127.0.0.1."
  }
}

variable "kafka_advertised_host" {
  description = "Host name that Kafka's external listener advertises to clients on the host."
  type        = string
  default     = "127.0.0.1"
}

variable "enable_metabase" {
  description = "Run Metabase (its image is pulled from Docker Hub; set false where no registry is reachable)."
  type        = bool
  default     = true
}

variable "taskmanager_count" {
  description = "Number of Flink TaskManager containers (FLINK_TASK_SLOTS slots each)."
  type        = number
  default     = 1

  validation {
    condition     = var.taskmanager_count >= 1 && var.taskmanager_count <= 8 && floor(var.taskmanager_count) == var.taskmanager_count
    error_message = "taskmanager_count must be a whole number from 1 to 8."
  }
}

variable "job_parallelism" {
  description = "Parallelism of the Flink job; null uses every slot (taskmanager_count x FLINK_TASK_SLOTS)."
  type        = number
  default     = null
}

variable "flink_memory" {
  description = "Total process memory of the Flink JobManager and of each TaskManager, and the TaskManager's managed-memory fraction; null uses FLINK_*_MEMORY and FLINK_MANAGED_MEMORY_FRACTION of config/stack.env."
  type = object({
    jobmanager       = string
    taskmanager      = string
    managed_fraction = number
  })
  default = null
}

variable "producer_rate" {
  description = "Clicks per second the producer sends; null uses PRODUCER_RATE of config/stack.env."
  type        = number
  default     = null

  validation {
    condition     = var.producer_rate == null ? true : var.producer_rate > 0
    error_message = "producer_rate must be positive."
  }
}

variable "producer_user_source" {
  description = "Where the producer's users come from: auto (Random User API, offline fallback), api, or offline."
  type        = string
  default     = "auto"

  validation {
    condition     = contains(["auto", "api", "offline"], var.producer_user_source)
    error_message = "producer_user_source must be auto, api or offline."
  }
}

variable "base_image" {
  description = "Base image of every image the stack builds, an exact tag; null uses BASE_IMAGE (config/stack.env). docker/base-image.sh makes it locally when no registry is reachable."
  type        = string
  default     = null

  validation {
    condition     = var.base_image == null ? true : can(regex("^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.base_image)) && !endswith(var.base_image, ":latest")
    error_message = "base_image must carry an exact tag or digest (not :latest), e.g. debian:12.15-slim."
  }
}

variable "metabase_image" {
  description = "Metabase image, an exact tag; null uses metabase/metabase:v<METABASE_VERSION> (config/stack.env)."
  type        = string
  default     = null

  validation {
    condition     = var.metabase_image == null ? true : can(regex("^[a-z0-9./_-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})$", var.metabase_image)) && !endswith(var.metabase_image, ":latest")
    error_message = "metabase_image must carry an exact tag or digest (not :latest), e.g. metabase/metabase:v0.56.4."
  }
}

variable "extra_ca_cert_path" {
  description = "Optional PEM file of extra CA certificates (a TLS-intercepting proxy's CA), trusted inside the image builds before pip runs. Empty: none."
  type        = string
  default     = ""

  validation {
    condition     = var.extra_ca_cert_path == "" ? true : fileexists(var.extra_ca_cert_path)
    error_message = "extra_ca_cert_path must name an existing file (or be empty)."
  }
}

variable "image_namespace" {
  description = "Repository part of the names of the images the stack builds (<namespace>/<service>:<content hash>)."
  type        = string
  default     = "wikistream"

  validation {
    condition     = can(regex("^[a-z0-9]+([._/-][a-z0-9]+)*$", var.image_namespace))
    error_message = "image_namespace must be a valid Docker repository path (lower case)."
  }
}

variable "keep_images" {
  description = "Keep the built images (and the pulled Metabase image) on destroy, so the next apply is warm. Unused versions can be removed with `make tf-prune-images`."
  type        = bool
  default     = true
}

variable "legacy_builder" {
  description = "Build images with Docker's classic builder (what Debian's docker.io has); false uses the provider's built-in buildx client."
  type        = bool
  default     = true
}

variable "docker_host" {
  description = "Docker engine the provider talks to."
  type        = string
  default     = "unix:///var/run/docker.sock"
}

variable "stack_env_overrides" {
  description = "Values that win over config/stack.env, by key (e.g. { POSTGRES_PORT = \"15432\" })."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for key in keys(var.stack_env_overrides) : can(regex("^[A-Z][A-Z0-9_]*$", key))])
    error_message = "stack_env_overrides keys are config/stack.env keys: upper case, digits and '_'."
  }
}

variable "postgres_passwords" {
  description = "Passwords of the PostgreSQL roles (admin, seeder, writer, reader). null or an empty string: generated once and kept in the state."
  type = object({
    admin  = optional(string)
    seeder = optional(string)
    writer = optional(string)
    reader = optional(string)
  })
  default   = {}
  sensitive = true

  validation {
    condition     = alltrue([for password in values(var.postgres_passwords) : password == null ? true : (password == "" || length(password) >= 12)])
    error_message = "A given password must have at least 12 characters."
  }
}

variable "python" {
  type        = string
  description = "Python interpreter with the project installed, used to apply the dashboards after Metabase is up (make up passes the virtualenv's)."
  default     = ".venv/bin/python"

  validation {
    condition     = length(trimspace(var.python)) > 0
    error_message = "python must name an interpreter."
  }
}
