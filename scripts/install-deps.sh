#!/usr/bin/env bash
# Installs the Debian packages dpohost builds on, when they are missing. Idempotent: a machine
# that has them all runs no apt command at all.
set -euo pipefail

packages=(
  pkg-config gcc g++ make
  libopenblas-dev        # matrix products (cblas_sgemm), loaded at run time with the kernel dpohost chooses
  libdnnl-dev            # matrix products (oneDNN's dnnl_sgemm), the default on AVX-512 processors
  libsentencepiece-dev   # Llama tokenizer
  libffi-dev             # calls whose signature is known only at run time
  libopenmpi-dev openmpi-bin   # FSDP / tensor-parallel trainers
  zlib1g-dev             # .jsonl.gz datasets
  iproute2 util-linux    # the multi-host tests' namespace hosts (ip netns, unshare; docs/multi-host.md)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

command -v swift >/dev/null || { echo "install-deps: a Swift 6 toolchain must be on PATH (swift.org/install)" >&2; exit 1; }
