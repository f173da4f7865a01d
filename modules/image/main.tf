# One image of the repository, built from docker/<image>/Dockerfile.
#
# The build context is assembled by docker/build-context.sh (only the files the Dockerfile copies;
# the repository root would send .venv and state directories to the daemon). Both the context
# and the image are rebuilt only when the content hash of their sources changes; the image name
# carries that hash, so `docker ps` shows which sources a container runs.

locals {
  files       = sort(distinct(flatten([for pattern in var.source_patterns : tolist(fileset(var.build.repo_root, pattern))])))
  source_hash = sha1(join("", [for file in local.files : "${file}:${filesha1("${var.build.repo_root}/${file}")};"]))
  tag         = substr(local.source_hash, 0, 12)
  context_dir = "${var.build.build_dir}/${var.image}"
  missing     = [for pattern in var.required_patterns : pattern if length(fileset(var.build.repo_root, pattern)) == 0]

  # Images are shared by every stack built from the same sources: no per-stack project label.
  image_labels = merge(
    { for key, value in var.labels : key => value if key != "org.wikistream.project" },
    { "org.wikistream.image" = var.image, "org.wikistream.sources" = local.source_hash },
  )
}

resource "terraform_data" "context" {
  triggers_replace = [local.source_hash, var.build.extra_ca_cert_path]
  input            = local.context_dir

  lifecycle {
    precondition {
      condition     = length(local.missing) == 0
      error_message = "Nothing matches ${join(", ", local.missing)} in ${var.build.repo_root}. ${var.required_hint}"
    }
  }

  provisioner "local-exec" {
    command = "\"$SCRIPT\" \"$IMAGE\" \"$OUT\" \"$EXTRA_CA\""
    environment = {
      SCRIPT   = "${var.build.repo_root}/docker/build-context.sh"
      IMAGE    = var.image
      OUT      = local.context_dir
      EXTRA_CA = var.build.extra_ca_cert_path
    }
  }
}

resource "docker_image" "this" {
  name         = "${var.build.namespace}/${var.image}:${local.tag}"
  keep_locally = var.build.keep_locally

  triggers = {
    sources    = local.source_hash
    base_image = var.build.base_image
  }

  build {
    context            = terraform_data.context.output
    dockerfile         = "Dockerfile"
    build_args         = { BASE_IMAGE = var.build.base_image }
    label              = local.image_labels # buildx
    labels             = local.image_labels # classic builder
    use_legacy_builder = var.build.legacy_builder
    remove             = true
    force_remove       = true
  }
}
