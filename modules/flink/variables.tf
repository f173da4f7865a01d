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

variable "rest_port" {
  description = "Port of the JobManager's REST API and web UI, inside the container and published on the host (stack.bind_address)."
  type        = number

  validation {
    condition     = var.rest_port >= 1 && var.rest_port <= 65535
    error_message = "rest_port must be a TCP port (1-65535)."
  }
}

variable "rpc_port" {
  description = "JobManager RPC port on the stack's network (not published)."
  type        = number

  validation {
    condition     = var.rpc_port >= 1 && var.rpc_port <= 65535
    error_message = "rpc_port must be a TCP port (1-65535)."
  }
}

variable "taskmanager_count" {
  description = "Number of TaskManager containers."
  type        = number
  default     = 1

  validation {
    condition     = var.taskmanager_count >= 1 && var.taskmanager_count <= 8 && floor(var.taskmanager_count) == var.taskmanager_count
    error_message = "taskmanager_count must be a whole number from 1 to 8."
  }
}

variable "task_slots" {
  description = "Task slots per TaskManager."
  type        = number

  validation {
    condition     = var.task_slots >= 1 && var.task_slots <= 64 && floor(var.task_slots) == var.task_slots
    error_message = "task_slots must be a whole number from 1 to 64."
  }
}

variable "job_parallelism" {
  description = "Parallelism of the job; null = every slot (taskmanager_count x task_slots)."
  type        = number
  default     = null

  validation {
    condition     = var.job_parallelism == null ? true : var.job_parallelism >= 1 && floor(var.job_parallelism) == var.job_parallelism
    error_message = "job_parallelism must be a positive whole number (or null for every slot)."
  }
}

variable "memory" {
  description = "Total process memory of each JVM (Flink's *.memory.process.size) and the TaskManager's managed-memory fraction."
  type = object({
    jobmanager       = string
    taskmanager      = string
    managed_fraction = number
  })

  validation {
    condition     = can(regex("^[0-9]+[mg]$", var.memory.jobmanager)) && can(regex("^[0-9]+[mg]$", var.memory.taskmanager))
    error_message = "memory sizes must look like 1024m or 2g."
  }

  validation {
    condition     = var.memory.managed_fraction >= 0 && var.memory.managed_fraction < 1
    error_message = "managed_fraction must be at least 0 and below 1."
  }
}

variable "job" {
  description = "The PyFlink job: its name and the environment it reads (flink_job/settings.py)."
  type = object({
    name                    = string
    kafka_bootstrap_servers = string
    kafka_topic             = string
    postgres_jdbc_url       = string
    postgres_writer_user    = string
  })
}

variable "postgres_writer_password" {
  description = "Password of the writer role the job's JDBC sinks log in with."
  type        = string
  sensitive   = true
}

variable "job_after" {
  description = "IDs the job submission waits for (healthy Kafka, PostgreSQL with schema, seeded users)."
  type        = list(string)
  default     = []
}

variable "job_startup_timeout" {
  description = "Seconds the submitter waits for the job to be RUNNING before giving up."
  type        = number
  default     = 300

  validation {
    condition     = var.job_startup_timeout >= 30 && var.job_startup_timeout <= 3000 && floor(var.job_startup_timeout) == var.job_startup_timeout
    error_message = "job_startup_timeout must be a whole number of seconds from 30 to 3000."
  }
}

variable "maintenance_interval_s" {
  description = "Seconds between two runs of the retention by the job keeper (MAINTENANCE_INTERVAL_S of config/stack.env)."
  type        = number

  validation {
    condition     = var.maintenance_interval_s > 0
    error_message = "maintenance_interval_s must be positive."
  }
}
