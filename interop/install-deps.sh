#!/usr/bin/env bash
# Install everything pushlab's interop/test suite needs, if it is missing:
#   - Debian packages: ngtcp2-client (gtlsclient), nghttp2-client (nghttp, h2load),
#     chromium, curl, iproute2, iperf3, nginx-light (or nginx), openssl
#   - a Python venv at <repo>/.venv with pinned aioquic, curl_cffi, hypercorn, haralyzer
#   - cargo-fuzz (pinned below), when the nightly toolchain is there (fuzz/smoke.sh)
#   - playwright-core (pinned in interop/package.json + package-lock.json) in
#     interop/node_modules; no browser download, tests use /usr/bin/chromium
#
# Idempotent and quiet: prints one "install-deps: ok (...)" line on success, and
# the failing step's output otherwise. Works as root, or as a user with
# password-less sudo; otherwise it lists what is missing and exits non-zero.
#
# Environment: PYTHON (interpreter for the venv, default python3, must be >= 3.11).
set -euo pipefail

# ---- pinned versions (keep README.md in sync) --------------------------------
AIOQUIC_VERSION=1.7.2
CURL_CFFI_VERSION=0.16.3   # 0.17.0 needs certifi>=2026.10.19, not on PyPI yet
HYPERCORN_VERSION=0.18.0
HARALYZER_VERSION=2.4.0    # an independent HAR reader, for tests/har.rs
CARGO_FUZZ_VERSION=0.13.2  # fuzz/smoke.sh (with the nightly toolchain)
# Full pin set of the venv (pip freeze of the four packages above), so that a
# later release of a dependency cannot change what the tests run against.
PY_REQUIREMENTS="
aioquic==${AIOQUIC_VERSION}
curl_cffi==${CURL_CFFI_VERSION}
hypercorn==${HYPERCORN_VERSION}
haralyzer==${HARALYZER_VERSION}
attrs==26.1.0
cached-property==2.0.1
certifi==2026.10.18
cffi==2.1.1
cryptography==50.0.2
h11==0.16.0
h2==4.4.1
hpack==4.2.0
hyperframe==6.1.0
priority==2.0.0
pycparser==3.12
pylsqpack==1.0.0
pyOpenSSL==26.4.0
python-dateutil==4.0.0
service-identity==26.1.0
typing_extensions==4.16.0
tzdata==2026.6
wsproto==1.3.2
"
# playwright-core's version is pinned in interop/package.json; read it from there.

# ---- locations -----------------------------------------------------------------
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "${SCRIPT_DIR}/.." && pwd)"
VENV="${REPO_ROOT}/.venv"
PYTHON="${PYTHON:-python3}"

LOG="$(mktemp -t install-deps.XXXXXX)"
trap 'rm -f "$LOG"' EXIT

die() {
    echo "install-deps: FAILED: $*" >&2
    exit 1
}

# run DESCRIPTION CMD...: run quietly; on failure show its output and stop.
run() {
    local desc="$1"
    shift
    if ! "$@" >"$LOG" 2>&1; then
        echo "install-deps: FAILED: ${desc}" >&2
        echo "---- command: $*" >&2
        tail -n 60 "$LOG" >&2
        exit 1
    fi
}

# ---- root / sudo ---------------------------------------------------------------
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        SUDO=(none)
    fi
fi

# ---- Debian packages -------------------------------------------------------------
# package -> commands it must provide
declare -A PKG_CMDS=(
    [ngtcp2-client]="gtlsclient"
    [nghttp2-client]="nghttp h2load"
    [chromium]="chromium"
    [curl]="curl"
    [iproute2]="ip tc"
    [iperf3]="iperf3"
    [openssl]="openssl"
)
PKG_ORDER=(ngtcp2-client nghttp2-client chromium curl iproute2 iperf3 openssl)

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

has_cmd() {
    # also look in sbin dirs, which a non-root PATH may lack
    command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/sbin/$1" ]
}

missing_pkgs=()
for pkg in "${PKG_ORDER[@]}"; do
    ok=1
    pkg_installed "$pkg" || ok=0
    for c in ${PKG_CMDS[$pkg]}; do
        has_cmd "$c" || ok=0
    done
    [ "$ok" -eq 1 ] || missing_pkgs+=("$pkg")
done
# nginx: any flavour will do (nginx-light, nginx, nginx-full, ...)
if ! has_cmd nginx; then
    missing_pkgs+=(nginx-light)
fi
# the venv module of the interpreter we will use
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    if [ "$PYTHON" = python3 ] || [ "$PYTHON" = /usr/bin/python3 ]; then
        missing_pkgs+=(python3-venv)
    else
        die "${PYTHON} has no working venv/ensurepip module"
    fi
fi
# node/npm for playwright-core (needs node >= 20, newer than Debian 12's nodejs)
if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1; then
    die "node >= 20 and npm are required (Debian 12's nodejs is 18, too old for playwright-core); install them first"
fi

if [ "${#missing_pkgs[@]}" -gt 0 ]; then
    if [ "${SUDO[*]}" = none ]; then
        echo "install-deps: FAILED: not root and no password-less sudo; missing Debian packages:" >&2
        echo "  apt-get install ${missing_pkgs[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    APT=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -y
         -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef
         -o Dpkg::Options::=--force-confold)
    run "apt-get update" "${APT[@]}" update
    run "apt-get install ${missing_pkgs[*]}" "${APT[@]}" install --no-install-recommends "${missing_pkgs[@]}"
    for pkg in "${missing_pkgs[@]}"; do
        pkg_installed "$pkg" || die "package ${pkg} is still not installed"
    done
fi
for c in gtlsclient nghttp h2load chromium curl ip iperf3 nginx openssl; do
    has_cmd "$c" || die "command ${c} not found after installing packages"
done

# ---- Python venv -----------------------------------------------------------------
"$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
    || die "${PYTHON} is $("$PYTHON" -V 2>&1); aioquic ${AIOQUIC_VERSION} needs Python >= 3.11"

# Prints nothing and succeeds when every pinned distribution is installed at its
# pinned version.
venv_check() {
    [ -x "${VENV}/bin/python" ] || return 1
    printf '%s\n' "$PY_REQUIREMENTS" | "${VENV}/bin/python" -c '
import sys, importlib.metadata as md
bad = []
for line in sys.stdin:
    line = line.strip()
    if not line:
        continue
    name, want = line.split("==")
    try:
        have = md.version(name)
    except md.PackageNotFoundError:
        have = None
    if have != want:
        bad.append(f"{name} {have} != {want}")
if bad:
    print("; ".join(bad))
    sys.exit(1)
' >/dev/null 2>&1
}

if ! venv_check; then
    if [ -e "$VENV" ] && ! "${VENV}/bin/python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' >/dev/null 2>&1; then
        run "remove broken venv ${VENV}" rm -rf "$VENV"
    fi
    if [ ! -x "${VENV}/bin/python" ]; then
        run "create venv ${VENV}" "$PYTHON" -m venv "$VENV"
    fi
    REQ_FILE="$(mktemp -t install-deps-req.XXXXXX)"
    trap 'rm -f "$LOG" "$REQ_FILE"' EXIT
    printf '%s\n' "$PY_REQUIREMENTS" | sed '/^$/d' >"$REQ_FILE"
    run "pip install (venv ${VENV})" env PIP_DISABLE_PIP_VERSION_CHECK=1 \
        "${VENV}/bin/python" -m pip install --quiet --no-input -r "$REQ_FILE"
    venv_check || die "venv ${VENV} does not have the pinned versions after pip install"
fi
run "import aioquic/curl_cffi/hypercorn/haralyzer" "${VENV}/bin/python" -c 'import aioquic, curl_cffi, hypercorn, haralyzer, aioquic.h3.connection'

# ---- playwright-core -----------------------------------------------------------------
PW_VERSION="$(node -e 'process.stdout.write(require(process.argv[1]).dependencies["playwright-core"])' "${SCRIPT_DIR}/package.json")"
pw_installed() {
    local have
    have="$(node -e 'try{process.stdout.write(require(process.argv[1]).version)}catch(e){}' \
        "${SCRIPT_DIR}/node_modules/playwright-core/package.json" 2>/dev/null || true)"
    [ "$have" = "$PW_VERSION" ]
}
if ! pw_installed; then
    (
        cd "$SCRIPT_DIR"
        export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm_config_audit=false npm_config_fund=false \
            npm_config_update_notifier=false
        if [ -f package-lock.json ]; then
            run "npm ci (interop/)" npm ci --no-audit --no-fund --loglevel=error
        else
            run "npm install (interop/)" npm install --no-audit --no-fund --loglevel=error
        fi
    )
    pw_installed || die "playwright-core ${PW_VERSION} not found in ${SCRIPT_DIR}/node_modules after npm"
fi

# ---- cargo-fuzz (for fuzz/smoke.sh; needs the nightly toolchain) ------------------------
FUZZ="cargo-fuzz: no nightly toolchain, fuzz smoke run will skip"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
        run "cargo install cargo-fuzz ${CARGO_FUZZ_VERSION}" \
            cargo install cargo-fuzz --version "${CARGO_FUZZ_VERSION}" --locked
    fi
    FUZZ="$(cargo +nightly fuzz --version 2>/dev/null | head -1)"
fi

# ---- summary -------------------------------------------------------------------------
echo "install-deps: ok (gtlsclient, nghttp, h2load, chromium, aioquic ${AIOQUIC_VERSION}, curl_cffi ${CURL_CFFI_VERSION}, hypercorn ${HYPERCORN_VERSION}, playwright-core ${PW_VERSION}, ${FUZZ})"
