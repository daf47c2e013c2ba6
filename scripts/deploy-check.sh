#!/usr/bin/env bash
# Checks the container deployments (deploy/) offline: no container engine, no cluster, no port.
# docs/deploy.md says what each check covers and what is not run here.
#
# usage: scripts/deploy-check.sh
#
# Builds, once and cached in $DATA_DIR/bin (rebuilt when a pin or the sources change):
#   helm          from the Go module proxy, pinned in tools/helm/go.mod
#   deploy-check  tools/deploy-check: strict decoding into the Kubernetes API types, the
#                 Compose specification's schema (compose-go), file and cross-reference checks
# then checks, printing each:
#   1. helm lint --strict of deploy/helm/printflow with the default, dev and external values
#   2. helm template of each (and of the dev values with tail sampling), decoded strictly into
#      the API types and cross-checked
#   3. the chart's files/ are links into config/ and deploy/compose/ that resolve
#   4. deploy/compose/compose.yaml (alone and with tail-sampling.yaml) against the Compose
#      schema, every mounted file present, secret defaults equal to the dev realm's
#   5. the container overlays keep the native Prometheus jobs and Grafana data sources
#   6. the containers' Jaeger configs (Compose's, the chart's) validated by the Jaeger that
#      scripts/infra.sh builds, the same version as the image; Compose's Prometheus config by
#      promtool
#   7. the Dockerfile's COPY sources exist and are not .dockerignore'd
#   8. shellcheck of deploy/'s scripts
# A check whose tool is missing here (Jaeger not built yet, no promtool, no shellcheck) is
# reported as skipped. Exit status 1 when any check failed.

set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"

BIN="$DATA_DIR/bin"
WORK="$DATA_DIR/deploy-check"
CHART="$ROOT/deploy/helm/printflow"
HELM_TOOL_DIR="$ROOT/tools/helm"
CHECK_TOOL_DIR="$ROOT/tools/deploy-check"
# Helm's own config, cache and data stay here, not in $HOME.
export HELM_CONFIG_HOME="$WORK/helm/config" HELM_CACHE_HOME="$WORK/helm/cache" HELM_DATA_HOME="$WORK/helm/data"

passed=0 failed=0 skipped=0
started=$(now_us)

# ------------------------------------------------------------------------------------ builds

# build_tool NAME DIR PACKAGE STAMP_EXTRA BUILD_ARGS...: go build PACKAGE in DIR into $BIN/NAME
# unless the stamp (go.mod, go.sum, sources, build command) is unchanged.
build_tool() {
    local name=$1 dir=$2 pkg=$3 extra=$4 stamp
    shift 4
    local cmd=(env CGO_ENABLED=0 GOTOOLCHAIN=local GOWORK=off go build -mod=readonly -trimpath "$@") sources
    mapfile -t sources < <(find "$dir" -maxdepth 1 -type f \( -name go.mod -o -name go.sum -o -name '*.go' \) | sort)
    stamp="$(cat "${sources[@]}" | sha256sum | cut -d' ' -f1) $extra ${cmd[*]}"
    go_build_cached "$BIN/$name" "$stamp" "$dir" "$pkg" "$name" "${cmd[@]}"
    ((GO_BUILT)) || log "$name: cached build ($BIN/$name)"
}

build_tools() {
    # As Helm's own Makefile stamps a release: its version, and the Kubernetes version of the
    # client-go it is built with (the default of --kube-version for lint and template).
    local helm_version client_go minor
    helm_version="$(awk '$1 == "helm.sh/helm/v3" { print $2 }' "$HELM_TOOL_DIR/go.mod")"
    client_go="$(awk '$1 == "k8s.io/client-go" { print $2 }' "$HELM_TOOL_DIR/go.mod")"
    minor="$(cut -d. -f2 <<<"$client_go")"
    [[ -n "$helm_version" && "$minor" =~ ^[0-9]+$ ]] || die "cannot read the Helm and client-go pins of $HELM_TOOL_DIR/go.mod"
    local x=(-X "helm.sh/helm/v3/internal/version.version=$helm_version")
    local pkg
    for pkg in lint/rules chartutil; do
        x+=(-X "helm.sh/helm/v3/pkg/$pkg.k8sVersionMajor=1" -X "helm.sh/helm/v3/pkg/$pkg.k8sVersionMinor=$minor")
    done
    build_tool helm "$HELM_TOOL_DIR" helm.sh/helm/v3/cmd/helm "$helm_version" "-ldflags=-s -w ${x[*]}"
    build_tool deploy-check "$CHECK_TOOL_DIR" . "" "-ldflags=-s -w"
}

# ------------------------------------------------------------------------------------ checks

# check NAME CMD...: runs one check, its output indented; counts it.
check() {
    local name=$1 rc=0
    shift
    printf -- '--- %s\n' "$name"
    "$@" 2>&1 | sed 's/^/    /' || rc=$?
    if ((rc == 0)); then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        printf -- '--- FAILED: %s\n' "$name"
    fi
}

# helm_quiet ARGS...: helm, without its notice for every linked file of the chart (expected:
# the links are how the chart reads config/; check 3 checks them).
helm_quiet() {
    local rc=0
    "$BIN/helm" "$@" 2> >(grep -v 'found symbolic link in path' >&2) || rc=$?
    return "$rc"
}

# skip NAME WHY: a check that cannot run here.
skip() {
    printf -- '--- SKIPPED: %s (%s)\n' "$1" "$2"
    skipped=$((skipped + 1))
}

# values NAME: the helm arguments of one values set.
values() {
    case "$1" in
    default) ;;
    dev | external) printf '%s\n' -f "$ROOT/deploy/helm/values-$1.yaml" ;;
    dev-tail) printf '%s\n' -f "$ROOT/deploy/helm/values-dev.yaml" --set dev.jaeger.tailSampling.enabled=true ;;
    esac
}

render() {
    local name=$1 args
    mapfile -t args < <(values "$name")
    helm_quiet template printflow "$CHART" --namespace printflow "${args[@]}" >"$WORK/rendered-$name.yaml"
    printf 'rendered %s objects into %s\n' "$(grep -c '^kind:' "$WORK/rendered-$name.yaml")" "$WORK/rendered-$name.yaml"
}

lint() {
    local args
    mapfile -t args < <(values "$1")
    helm_quiet lint --strict "$CHART" --namespace printflow "${args[@]}"
}

# validate_jaeger: the merged configs each container deployment gives Jaeger, validated by the
# natively built Jaeger (v1.76.0, the jaegertracing/jaeger:2.13.0 image's version).
validate_jaeger() {
    local jaeger=$DATA_DIR/bin/jaeger cm="$WORK/extract/rendered-dev-tail/printflow-jaeger" tail="$WORK/tail-sampling.yaml"
    # As deploy/compose/tail-sampling.yaml's one-shot container renders it, with the defaults.
    sed -e 's/@JAEGER_TAIL_LATENCY_MS@/500/g' -e 's/@JAEGER_TAIL_SHARE_PERCENT@/10/g' \
        -e 's/@JAEGER_TAIL_DECISION_WAIT_SECONDS@/30/g' "$ROOT/config/jaeger/tail-sampling.yaml" >"$tail"
    "$jaeger" validate --config="$ROOT/config/jaeger/config.yaml" --config="$ROOT/deploy/compose/jaeger/container.yaml"
    echo "Compose: config/jaeger/config.yaml + deploy/compose/jaeger/container.yaml valid"
    "$jaeger" validate --config="$ROOT/config/jaeger/config.yaml" --config="$ROOT/deploy/compose/jaeger/container.yaml" --config="$tail"
    echo "Compose with tail sampling: + config/jaeger/tail-sampling.yaml (rendered) valid"
    "$jaeger" validate --config="$cm/config.yaml" --config="$cm/container.yaml" --config="$cm/cluster.yaml" --config="$cm/tail-sampling.yaml"
    echo "Helm dev bundle with tail sampling: ConfigMap printflow-jaeger valid"
}

# promtool_configs: Compose's Prometheus config (syntax only: the files it names exist in the
# container). Not the chart's: Debian's promtool is built without Kubernetes service discovery,
# which that config uses; its jobs are checked by `deploy-check manifests -prometheus-jobs`.
promtool_configs() {
    promtool check config --syntax-only "$ROOT/deploy/compose/prometheus/prometheus.yml"
}

shellcheck_deploy() {
    local files
    mapfile -t files < <(cd "$ROOT" && find deploy -name '*.sh' -type f | sort)
    (cd "$ROOT" && shellcheck -x "${files[@]}" scripts/deploy-check.sh)
    printf '%s scripts clean\n' "$((${#files[@]} + 1))"
}

# refuses WHAT PATTERN CMD...: CMD must fail, and name the fault (its output matches PATTERN).
refuses() {
    local what=$1 pattern=$2 out rc=0
    shift 2
    out="$("$@" 2>&1)" || rc=$?
    ((rc != 0)) || { printf 'accepted %s\n' "$what"; return 1; }
    grep -qE -- "$pattern" <<<"$out" || { printf 'refused %s, but without naming it:\n%s\n' "$what" "$out"; return 1; }
    printf 'refused %s: %s\n' "$what" "$(grep -m1 -E -- "$pattern" <<<"$out" | sed 's/^ *//')"
}

# The checks themselves can fail: a Compose key the specification does not have and a
# misspelt field in a rendered Deployment are each refused, by name. Without this, a checker
# that passed everything would look the same as a clean deployment.
checks_refuse_broken_input() {
    printf 'services:\n  rabbitmq:\n    helthcheck_typo: true\n' >"$WORK/broken-compose.yaml"
    sed 's/terminationGracePeriodSeconds:/terminationGracePeriodSecond:/' \
        "$WORK/rendered-default.yaml" >"$WORK/broken-manifests.yaml"
    refuses "an unknown Compose key" 'helthcheck_typo' \
        "$BIN/deploy-check" compose -realm "$ROOT/config/keycloak/printflow-realm.json" \
        "$ROOT/deploy/compose/compose.yaml" "$WORK/broken-compose.yaml" &&
        refuses "a misspelt Deployment field" 'unknown field "spec.template.spec.terminationGracePeriodSecond"' \
            "$BIN/deploy-check" manifests "$WORK/broken-manifests.yaml"
}

main() {
    mkdir -p -- "$WORK"
    build_tools
    log "checking the container deployments offline ($("$BIN/helm" version --short), tools/deploy-check)"
    local v rendered=()
    for v in default dev external; do
        check "helm lint --strict ($v values)" lint "$v"
    done
    for v in default dev external dev-tail; do
        check "helm template ($v values)" render "$v"
        rendered+=("$WORK/rendered-$v.yaml")
    done
    check "rendered manifests decoded strictly into the Kubernetes API types and cross-checked" \
        "$BIN/deploy-check" manifests -prometheus-jobs "$ROOT/config/prometheus/prometheus.yml" \
        -extract "$WORK/extract" "${rendered[@]}"
    check "the checks refuse a broken Compose file and a broken manifest" checks_refuse_broken_input
    check "the chart's files/ link into the repository" "$BIN/deploy-check" chart-files "$CHART"
    check "Compose file against the Compose specification's schema, mounts present" \
        "$BIN/deploy-check" compose -realm "$ROOT/config/keycloak/printflow-realm.json" "$ROOT/deploy/compose/compose.yaml"
    check "Compose file with the tail sampling overlay" \
        "$BIN/deploy-check" compose -realm "$ROOT/config/keycloak/printflow-realm.json" \
        "$ROOT/deploy/compose/compose.yaml" "$ROOT/deploy/compose/tail-sampling.yaml"
    check "Compose's Prometheus overlay scrapes the native jobs" \
        "$BIN/deploy-check" same-jobs "$ROOT/config/prometheus/prometheus.yml" "$ROOT/deploy/compose/prometheus/prometheus.yml"
    check "the containers' Grafana data sources are the native ones" \
        "$BIN/deploy-check" same-datasources "$ROOT/config/grafana/provisioning/datasources/printflow.yml" \
        "$ROOT/deploy/compose/grafana/datasources.yml"
    if [[ -x "$DATA_DIR/bin/jaeger" ]]; then
        check "the containers' Jaeger configs, validated by Jaeger" validate_jaeger
    else
        skip "the containers' Jaeger configs" "no $DATA_DIR/bin/jaeger: scripts/infra.sh builds it"
    fi
    if command -v promtool >/dev/null 2>&1; then
        check "Compose's Prometheus config, promtool --syntax-only" promtool_configs
    else
        skip "Compose's Prometheus config" "promtool is not installed (scripts/infra.sh install)"
    fi
    check "Dockerfile's build context" "$BIN/deploy-check" dockerfile "$ROOT/deploy/docker/Dockerfile" "$ROOT"
    if command -v shellcheck >/dev/null 2>&1; then
        check "shellcheck of deploy/'s scripts" shellcheck_deploy
    else
        skip "shellcheck of deploy/'s scripts" "shellcheck is not installed"
    fi
    log "deploy checks finished in $(elapsed_since "$started")"
    echo "deploy-check: $passed passed, $failed failed, $skipped skipped"
    ((failed == 0))
}

main "$@"
