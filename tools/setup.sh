#!/usr/bin/env bash
# Sets up this machine and runs one of the two jobs of the README:
#   tools/setup.sh sandbox [--minor-release] [DIR]   build real composes from test RPMs and sync them to staging under DIR
#                                    (--minor-release: produce composes with ISOs and the GA sync, -c minor-release)
#   tools/setup.sh test            run every test
# Installs only what is missing: system packages (apt-get on Debian/Ubuntu, dnf on EL), then npm ci.
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> package, per package manager
declare -A DEB=(
  [rsync]=rsync [createrepo_c]=createrepo-c [modifyrepo_c]=createrepo-c [hardlink]=util-linux [gpg]=gnupg
  [gpgv]=gpgv [dnf]=dnf [rpm]=rpm [rpmbuild]=rpm [xorriso]=xorriso [mktorrent]=mktorrent [git]=git [cp]=coreutils
  [chromium]=chromium
)
declare -A EL=(
  [rsync]=rsync [createrepo_c]=createrepo_c [modifyrepo_c]=createrepo_c [hardlink]=util-linux [gpg]=gnupg2
  [gpgv]=gnupg2 [dnf]=dnf [rpm]=rpm [rpmbuild]=rpm-build [xorriso]=xorriso [mktorrent]=mktorrent [git]=git [cp]=coreutils
  [chromium]=chromium
)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

install_system_packages() {
  local missing=() pkgs=() cmd
  # (EPEL's chromium package names its command chromium-browser)
  for cmd in "${!DEB[@]}"; do
    command -v "$cmd" >/dev/null 2>&1 || { [ "$cmd" = chromium ] && command -v chromium-browser >/dev/null 2>&1; } || missing+=("$cmd")
  done
  # repoclosure is a dnf plugin, not a command of its own
  if command -v dnf >/dev/null 2>&1 && ! dnf repoclosure --help >/dev/null 2>&1; then missing+=(repoclosure); fi
  [ "${#missing[@]}" -eq 0 ] && return 0
  echo "installing system packages for: ${missing[*]}"
  if command -v apt-get >/dev/null 2>&1; then
    for cmd in "${missing[@]}"; do pkgs+=("${DEB[$cmd]:-dnf-plugins-core}"); done
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" dnf-plugins-core >/dev/null
  elif command -v dnf >/dev/null 2>&1; then
    local browser=()
    for cmd in "${missing[@]}"; do
      if [ "$cmd" = chromium ]; then browser=("${EL[$cmd]}"); else pkgs+=("${EL[$cmd]:-dnf-plugins-core}"); fi
    done
    # EL8 ships hardlink as its own package; mktorrent and chromium come from EPEL
    if grep -q 'VERSION_ID="8' /etc/os-release; then pkgs+=(hardlink); fi
    case " ${pkgs[*]} ${browser[*]} " in *" mktorrent "* | *" chromium "*) as_root dnf install -y -q epel-release || true ;; esac
    as_root dnf install -y -q "${pkgs[@]}" dnf-plugins-core
    # chromium only renders the release graph in a test; best effort, as EPEL may not have it for this release
    if [ "${#browser[@]}" -gt 0 ]; then
      as_root dnf install -y -q "${browser[@]}" || echo "chromium not installed: test/e2e/graph-html.test.ts will fail" >&2
    fi
  else
    echo "cannot install ${missing[*]}: neither apt-get nor dnf found" >&2
    exit 1
  fi
}

check_node() {
  if ! command -v node >/dev/null 2>&1; then
    echo "Node.js 20.19 or newer is required (https://nodejs.org or your distribution's nodejs 20/22 stream)" >&2
    exit 1
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    echo "Node.js $(node --version) is too old: 20.19 or newer is required" >&2
    exit 1
  }
}

install_node_modules() {
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund
  fi
}

job="${1:-}"
case "$job" in
  sandbox | test) ;;
  *)
    echo "usage: tools/setup.sh sandbox [--minor-release] [DIR] | test" >&2
    exit 2
    ;;
esac
install_system_packages
check_node
install_node_modules
# Nx loads the plugin as plain JavaScript from tools/nx-releng/dist; built when its sources changed
node tools/nx-releng/bin/build.js
export NX_DAEMON=false NX_NO_CLOUD=true SWC_NODE_PROJECT="$PWD/tsconfig.base.json"
if [ "$job" = sandbox ]; then
  exec node -r @swc-node/register tools/sandbox/run.ts "${@:2}"
else
  exec node test/run.mjs "${@:2}"
fi
