# Container stack (issue 5): Terraform + the Docker provider. Included by the Makefile, which
# defines PY, STAMP and the `jars` target and includes config/stack.env.
#
#   make up        build what changed, start everything, return when the Flink job is RUNNING
#   make down      remove the containers (the job stops with a savepoint first), keep the data
#   make destroy   remove containers, volumes (all data), network; asks first unless FORCE=1
#
# Knobs (make VAR=value or environment):
#   EXTRA_CA_CERT    PEM file trusted inside image builds (TLS-intercepting proxy), default none
#   ENABLE_METABASE  true | false (false where Docker Hub is unreachable)
#   TF_VARS          more terraform options, e.g. TF_VARS='-var taskmanager_count=2'
#   WIKISTREAM_CACHE where terraform/bootstrap.sh caches Terraform, the provider and base images
.PHONY: up down destroy tf-private-state tf-tools tf-base-image tf-init tf-plan tf-validate tf-fmt tf-output tf-status tf-logs tf-prune-images tf-test

TF_DIR           ?= terraform
WIKISTREAM_CACHE ?= $(HOME)/.cache/wikistream
# TERRAFORM_VERSION and BASE_IMAGE come from config/stack.env, like every version (see the Makefile).
# terraform on PATH, else the one terraform/bootstrap.sh built into the cache.
TERRAFORM        ?= $(or $(shell command -v terraform 2>/dev/null),$(WIKISTREAM_CACHE)/terraform/$(TERRAFORM_VERSION)/terraform)
# The provider comes from the local mirror when terraform/bootstrap.sh made one.
ifneq ($(wildcard $(WIKISTREAM_CACHE)/terraform.rc),)
export TF_CLI_CONFIG_FILE := $(WIKISTREAM_CACHE)/terraform.rc
endif
export TF_IN_AUTOMATION := 1

EXTRA_CA_CERT    ?=
ENABLE_METABASE  ?= true
TF_VARS          ?=
TF               := $(TERRAFORM) -chdir=$(TF_DIR)
# The state holds every generated password: apply and destroy run under umask 077, so a state it creates
# is 0600 (docker/build-context.sh sets its own modes, so the images do not change), and
# tf-private-state makes a state from before that 0600 too (Terraform rewrites it in place).
TF_STATE         ?= $(TF_DIR)/terraform.tfstate
TF_APPLY_VARS     = -var 'extra_ca_cert_path=$(EXTRA_CA_CERT)' -var 'enable_metabase=$(ENABLE_METABASE)' -var 'python=$(abspath $(PY))' $(TF_VARS)
TF_PREFIX         = $(or $(shell $(TF) output -raw name_prefix 2>/dev/null),wikistream)
# Every container resource: `down` destroys exactly these (tests/terraform checks the list is complete).
TF_CONTAINERS    := module.producer.module.container module.flink.module.job \
                    module.flink.module.taskmanager module.flink.module.jobmanager \
                    module.metabase.module.container module.kafka.module.container \
                    module.postgres.module.container

up: $(STAMP) jars tf-base-image tf-init tf-private-state ## Container stack: build, start, wait until the Flink job is RUNNING (Terraform)
	@started=$$(date +%s); umask 077; \
	$(TF) apply -auto-approve -input=false -var running=true $(TF_APPLY_VARS) && \
	echo "" && echo "container stack up in $$(( $$(date +%s) - started )) s" && \
	$(TF) output

down: tf-init tf-private-state ## Container stack: remove the containers, keep volumes (data), network and images
	@umask 077; $(TF) destroy -auto-approve -input=false $(TF_APPLY_VARS) $(addprefix -target=,$(TF_CONTAINERS))
	@test -z "$$(docker ps -aq --filter label=org.wikistream.project=$(TF_PREFIX))" \
	  && echo "containers removed; data kept in: $$($(TF) output -json volumes)" \
	  || { echo "error: containers of $(TF_PREFIX) are still there"; docker ps -a --filter label=org.wikistream.project=$(TF_PREFIX); exit 1; }

destroy: tf-init tf-private-state ## Container stack: remove everything incl. volumes (all data); asks unless FORCE=1
	@prefix=$(TF_PREFIX); \
	if [ "$(FORCE)" != 1 ]; then \
	  printf 'Destroy the container stack "%s": containers, network and volumes (ALL DATA)? [y/N] ' "$$prefix"; \
	  read answer; case "$$answer" in [yY]|[yY][eE][sS]) ;; *) echo "aborted"; exit 1 ;; esac; \
	fi; \
	umask 077; $(TF) destroy -auto-approve -input=false $(TF_APPLY_VARS) && rm -rf "build/docker/$$prefix"

tf-private-state: ## Make an existing Terraform state and its backup 0600 (they hold the passwords)
	@for file in "$(TF_STATE)" "$(TF_STATE).backup"; do \
	  [ ! -e "$$file" ] || chmod 600 "$$file" || exit 1; \
	done

tf-tools: ## Build/cache Terraform and the Docker provider (Go module proxy), write the CLI config
	@terraform/bootstrap.sh all >/dev/null

tf-base-image: ## Make the base image locally (cache, registry, or debootstrap)
	@docker/base-image.sh $(BASE_IMAGE)

tf-init:
	@$(TF) init -input=false -no-color >/dev/null || $(TF) init -input=false

tf-plan: tf-init ## terraform plan of the container stack
	@$(TF) plan -input=false $(TF_APPLY_VARS)

tf-validate: tf-init ## terraform fmt -check and validate (root and modules)
	@$(TERRAFORM) fmt -check -recursive $(TF_DIR) modules && $(TF) validate

tf-fmt: ## terraform fmt the root module and modules/
	@$(TERRAFORM) fmt -recursive $(TF_DIR) modules

tf-output: ## URLs and connection details of the container stack
	@$(TF) output

tf-status: ## Containers of the container stack, with health
	@docker ps -a --filter label=org.wikistream.project=$(TF_PREFIX) --format 'table {{.Names}}\t{{.Status}}\t{{.Ports}}'

tf-logs: ## Logs of one container: make tf-logs SERVICE=flink-job
	@docker logs --tail 200 -f $(TF_PREFIX)-$(or $(SERVICE),flink-job)

tf-prune-images: tf-init ## Remove built images of older source versions (keeps those in the state)
	@keep="$$($(TF) output -json images 2>/dev/null | grep -o '"[^"]*/[^"]*:[^"]*"' | tr -d '"')"; \
	old="$$(docker images --filter label=org.wikistream.managed=terraform --format '{{.Repository}}:{{.Tag}}' \
	  | grep -v '<none>' | grep -vxF -e "$${keep:-none}" || true)"; \
	if [ -n "$$old" ]; then docker rmi $$old; else echo "no old images"; fi; \
	docker image prune -f --filter label=org.wikistream.managed=terraform >/dev/null

tf-test: $(STAMP) ## Tests of the container stack (the slow one applies and destroys a real stack)
	@$(PY) -m pytest tests/terraform
