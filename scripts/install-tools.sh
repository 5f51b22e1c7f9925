#!/usr/bin/env bash
# The real programs the end-to-end tests run against, installed outside the clone:
#   prometheus, promtool       Debian package prometheus (2.42 on bookworm)
#   alertmanager, amtool       Debian package prometheus-alertmanager
#   chromium                   Debian package chromium (renders the HTML report in a test)
# The monitoring packages are unpacked (dpkg -x) rather than installed, so no system service is
# started and nothing outside the cache folder changes. Chromium is a browser, not a service, and
# needs its shared libraries, so it is installed the ordinary way (apt-get install). Programs
# already on PATH are used as they are. Reruns find the cache and do nothing.
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

for program in prometheus promtool alertmanager amtool chromium; do
    have "$program" || { echo "install-tools: $program is missing after installation" >&2; exit 1; }
done
