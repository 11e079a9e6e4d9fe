#!/usr/bin/env bash
# Installs the Debian packages the tests and tools use, only those missing (needs root).
# With package names as arguments, installs just those (the demo asks only for what it needs).
#   python3-pyroute2  the second-opinion decoder in the codec tests (runs under /usr/bin/python3)
#   iproute2          `ip -j` / `tc` / `bridge`, which kernel tests use to look at what sluice did
#   clang llvm libbpf-dev bpftool  rebuilding and checking the eBPF objects
#   iperf3            the TCP streams of the data-path tests and the data-plane benchmark
#   sockperf          request/response latency in the data-plane benchmark (and its kernel test)
#   containernetworking-plugins  the reference plugins (host-local, portmap, tuning, bridge) in /usr/lib/cni
#   util-linux        nsenter, which runs the plugin inside a test "node" namespace
#   nftables          `nft`, which the masquerade tests use to look at the ruleset sluice programmed
set -euo pipefail
packages=(python3-pyroute2 iproute2 clang llvm libbpf-dev bpftool iperf3 sockperf containernetworking-plugins util-linux nftables)
if [ $# -gt 0 ]; then packages=("$@"); fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]} (run this script as root to install them)" >&2
    exit 1
  fi
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
