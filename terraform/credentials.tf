# Database passwords without a hard-coded value and without the hashicorp/random provider (the
# registry is unreachable and the Go module proxy serves only random v1.3.1/v2.0.0 from 2018, plugin
# protocol 4, which Terraform >= 0.12 cannot load).
#
# uuid() draws 122 random bits from crypto/rand at apply time; two of them make a 64-hex-digit
# password. ignore_changes keeps the first value in the state for good (a later plan would
# otherwise draw new ones), so passwords change only when this resource is destroyed. A password
# given in var.postgres_passwords wins.

resource "terraform_data" "generated_passwords" {
  input = sensitive({
    admin  = replace("${uuid()}${uuid()}", "-", "")
    writer = replace("${uuid()}${uuid()}", "-", "")
    reader = replace("${uuid()}${uuid()}", "-", "")
  })

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  generated = terraform_data.generated_passwords.output
  postgres_passwords = sensitive({
    for role in ["admin", "writer", "reader"] :
    role => try(length(var.postgres_passwords[role]) > 0, false) ? var.postgres_passwords[role] : local.generated[role]
  })
}
