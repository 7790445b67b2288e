#!/usr/bin/env bash
# Installs the Debian packages connbroker needs to build, test and demo.
# Idempotent: only missing packages are installed. Debian archive only.
set -euo pipefail

PKGS=(
  # build: BPF toolchain, libbpf/libxdp, skeleton generator
  clang llvm make gcc pkg-config libbpf-dev libxdp-dev bpftool libelf-dev zlib1g-dev
  # userspace libraries: metrics endpoint, config parser, the peer channel (TLS 1.3)
  libmicrohttpd-dev libinih-dev libssl-dev
  # unit tests; libFuzzer (make fuzz) is in clang's runtime
  libcriterion-dev libclang-rt-14-dev
  # integration tests and demo: namespaces, real clients, captures
  iproute2 xdp-tools nftables ethtool curl tcpdump tshark python3 jq util-linux procps xxd wrk
  # benchmark traffic generator
  netsniff-ng haproxy openssl
  # the io_uring side of the socket-build benchmark (tests/bench/repair_time.c)
  liburing-dev
  # promtool (checks the metrics endpoint in the tests)
  prometheus
  # unmodified servers under `connbroker exec` (tests/net/tests_exec.sh, make bench)
  nginx nodejs
  # make deb and its test (debian/), the man pages' check (groff)
  dpkg-dev debhelper lintian fakeroot groff-base
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root (or install them)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
