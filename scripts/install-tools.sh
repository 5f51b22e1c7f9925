#!/usr/bin/env bash
# The real programs the end-to-end tests run against, installed outside the clone:
#   prometheus, promtool       Debian package prometheus (2.42 on bookworm)
#   alertmanager, amtool       Debian package prometheus-alertmanager
#   chromium                   Debian package chromium (renders the HTML report in a test)
#   otelcol-agentmon           OpenTelemetry Collector built with ocb from
#                              deploy/collector/builder-config.yaml (Go modules)
#   jaeger                     Jaeger v2 (github.com/jaegertracing/jaeger/cmd/jaeger, Go module)
# The monitoring packages are unpacked (dpkg -x) rather than installed, so no system service is
# started and nothing outside the cache folder changes. Chromium is a browser, not a service, and
# needs its shared libraries, so it is installed the ordinary way (apt-get install). Programs
# already on PATH are used as they are. Reruns find the cache and do nothing.
# The two Go programs are always built into the cache (a collector on PATH would not hold our
# components) with the Go toolchain on PATH, from the Go module proxy; the Go module and build
# caches live next to the tools, so a rebuild only compiles what changed. The collector is
# rebuilt when its manifest changes, Jaeger when its pinned version changes.
set -euo pipefail

TOOLS_DIR="${AGENTMON_TOOLS_DIR:-$HOME/.cache/otel-agentmon/tools}"
DEBIAN_ROOT="$TOOLS_DIR/debian"
BIN_DIR="$TOOLS_DIR/bin"
mkdir -p "$BIN_DIR"

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "install-tools: need root (or sudo) for: $*" >&2; return 1; fi
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "$BIN_DIR/$1" ]; }

debian_packages=()
have prometheus && have promtool || debian_packages+=(prometheus)
have alertmanager && have amtool || debian_packages+=(prometheus-alertmanager)

if [ ${#debian_packages[@]} -gt 0 ]; then
    echo "install-tools: unpacking Debian packages ${debian_packages[*]} into $DEBIAN_ROOT"
    if ! apt-cache show "${debian_packages[@]}" >/dev/null 2>&1; then
        as_root apt-get update -qq
    fi
    download_dir="$(mktemp -d)"
    chmod 777 "$download_dir"   # apt's download sandbox user must be able to write here
    (cd "$download_dir" && apt-get download -qq "${debian_packages[@]}" 2>&1 | grep -v 'unsandboxed' || true)
    for deb in "$download_dir"/*.deb; do
        dpkg -x "$deb" "$DEBIAN_ROOT"
    done
    rm -rf "$download_dir"
    for program in prometheus promtool amtool; do
        [ -x "$DEBIAN_ROOT/usr/bin/$program" ] && ln -sf "$DEBIAN_ROOT/usr/bin/$program" "$BIN_DIR/$program"
    done
    # Debian names the Alertmanager binary prometheus-alertmanager
    [ -x "$DEBIAN_ROOT/usr/bin/prometheus-alertmanager" ] && \
        ln -sf "$DEBIAN_ROOT/usr/bin/prometheus-alertmanager" "$BIN_DIR/alertmanager"
fi

# Debian's Alertmanager reads its default notification templates from this fixed path (no
# flag moves it), so those data files go where the binary expects them.
TEMPLATES=/usr/share/prometheus/alertmanager
for template in "$DEBIAN_ROOT$TEMPLATES"/*.tmpl; do
    if [ -f "$template" ] && [ ! -f "$TEMPLATES/$(basename "$template")" ]; then
        as_root mkdir -p "$TEMPLATES"
        as_root cp "$template" "$TEMPLATES/"
    fi
done

# Chromium: installed for real (see above); sudo drops the environment, hence env.
if ! have chromium; then
    echo "install-tools: installing the Debian package chromium"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache show chromium >/dev/null 2>&1; then
        as_root apt-get update -qq
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
fi

# Go programs: the collector (ocb) and Jaeger v2.
# ocb is released with the collector: keep OCB_VERSION equal to the collector core release of
# the components in builder-config.yaml.
OCB_VERSION=v0.155.0
# Jaeger v2's module path has no /v2, so its v2.x.y tags are not Go module versions. Jaeger
# tagged each v2 release commit with the matching v1 release while v1 was maintained:
# v1.76.0, the last of them, is the commit of v2.13.0 (63b27e1810a7), and installs the v2
# binary (cmd/jaeger). Later v2 releases carry no v1 tag and need a pseudo-version
# (v1.76.1-0.<commit time>-<commit>), which the module proxy we build from does not serve.
JAEGER_MODULE_VERSION=v1.76.0   # Jaeger v2.13.0
JAEGER_VERSION=v2.13.0
JAEGER_COMMIT=63b27e1810a710ac54dc4522da0538e540bdc545
JAEGER_DATE=2025-12-03T16:07:08Z
GO_DIR="${AGENTMON_GO_DIR:-$HOME/.cache/otel-agentmon/go}"
BUILD_DIR="$TOOLS_DIR/build"
REPO_DIR="$(cd "$(dirname "$0")/.." && pwd)"
MANIFEST="$REPO_DIR/deploy/collector/builder-config.yaml"

go_env() {
    env GOPATH="$GO_DIR" GOMODCACHE="$GO_DIR/pkg/mod" GOCACHE="$GO_DIR/cache" \
        GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw" GOTOOLCHAIN=local CGO_ENABLED=0 "$@"
}

# Go's progress lines (hundreds on a first build) are left out; errors and ocb's steps are kept.
without_go_progress() { grep --line-buffered -v '^go: \(downloading\|added\|upgraded\|finding\) ' || true; }

need_go() {
    command -v go >/dev/null 2>&1 || {
        echo "install-tools: Go (1.25 or later) is needed to build $1: https://go.dev/dl/" >&2; exit 1; }
}

# The stamp: the manifest without its comments and blank lines, and the ocb release.
collector_stamp="$( (sed -e 's/[[:space:]]*#.*$//' -e '/^[[:space:]]*$/d' "$MANIFEST"; echo "ocb $OCB_VERSION") |
    sha256sum | cut -d' ' -f1)"
if [ ! -x "$BIN_DIR/otelcol-agentmon" ] || \
        [ "$(cat "$BIN_DIR/otelcol-agentmon.sha256" 2>/dev/null)" != "$collector_stamp" ]; then
    need_go otelcol-agentmon
    echo "install-tools: building otelcol-agentmon (ocb $OCB_VERSION) from $MANIFEST"
    started=$SECONDS
    ocb="$BUILD_DIR/ocb-$OCB_VERSION/builder"
    [ -x "$ocb" ] || go_env GOBIN="$(dirname "$ocb")" go install "go.opentelemetry.io/collector/cmd/builder@$OCB_VERSION" \
        2>&1 | without_go_progress
    sources="$BUILD_DIR/otelcol-agentmon"
    rm -rf "$sources"
    # The manifest as it is, written to the cache: only the output path moves there.
    sed "s|^\(  output_path:\).*|\1 $sources|" "$MANIFEST" > "$BUILD_DIR/builder-config.yaml"
    # -e lets ocb's `go mod tidy` go on when a module that only the tests of a component import
    # is missing from the module proxy (contrib's pkg/golden and otlpencodingextension at
    # v0.155.0): the collector never needs them. Commands without an -e flag ignore it.
    go_env GOFLAGS="${GOFLAGS:+$GOFLAGS }-modcacherw -e" "$ocb" --config "$BUILD_DIR/builder-config.yaml" \
        2>&1 | without_go_progress
    [ -x "$sources/otelcol-agentmon" ] || {
        echo "install-tools: ocb did not produce otelcol-agentmon" >&2; exit 1; }
    install -m 755 "$sources/otelcol-agentmon" "$BIN_DIR/otelcol-agentmon"
    echo "$collector_stamp" > "$BIN_DIR/otelcol-agentmon.sha256"
    echo "install-tools: built otelcol-agentmon in $((SECONDS - started))s"
fi

if [ ! -x "$BIN_DIR/jaeger" ] || [ "$(cat "$BIN_DIR/jaeger.version" 2>/dev/null)" != "$JAEGER_MODULE_VERSION" ]; then
    need_go jaeger
    echo "install-tools: building jaeger $JAEGER_VERSION (github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION)"
    started=$SECONDS
    # `go install module@version` refuses a module whose go.mod has replace directives, and
    # Jaeger's has one (sarama). So the module is downloaded and built as its own main module,
    # the way Jaeger's release builds it: its go.mod (replace included) and go.sum apply. The
    # -X flags are the build info Jaeger's Makefile sets (`jaeger version`).
    go_env go mod download "github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION"
    sources="$BUILD_DIR/jaeger-src"
    rm -rf "$sources"
    cp -r "$GO_DIR/pkg/mod/github.com/jaegertracing/jaeger@$JAEGER_MODULE_VERSION" "$sources"
    chmod -R u+w "$sources"
    buildinfo=github.com/jaegertracing/jaeger/internal/version
    (cd "$sources" && go_env go build -trimpath -o jaeger -ldflags "-s -w \
        -X $buildinfo.latestVersion=$JAEGER_VERSION -X $buildinfo.commitSHA=$JAEGER_COMMIT \
        -X $buildinfo.date=$JAEGER_DATE" ./cmd/jaeger) 2>&1 | without_go_progress
    install -m 755 "$sources/jaeger" "$BIN_DIR/jaeger"
    echo "$JAEGER_MODULE_VERSION" > "$BIN_DIR/jaeger.version"
    echo "install-tools: built jaeger in $((SECONDS - started))s"
fi

for program in prometheus promtool alertmanager amtool chromium otelcol-agentmon jaeger; do
    have "$program" || { echo "install-tools: $program is missing after installation" >&2; exit 1; }
done
