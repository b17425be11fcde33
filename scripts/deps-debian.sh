#!/usr/bin/env bash
# Installs what lirf needs to build, test and run on Debian 12 (as root).
# Every dependency is a Debian package; nothing is downloaded from elsewhere.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
PKGS=(
  build-essential cmake pkg-config
  ocl-icd-opencl-dev opencl-headers clinfo   # OpenCL ICD loader and headers
  pocl-opencl-icd                            # the CPU OpenCL device
  mesa-opencl-icd                            # a second, independent OpenCL: Mesa's rusticl on
                                             # llvmpipe (RUSTICL_ENABLE=llvmpipe); CI runs the suite on it too
  libclblast-dev                             # GEMM
  libsodium-dev                              # SHA-256 (program cache keys, fingerprints)
  libarchive-dev libjansson-dev              # deposit archives, JSON
  libpng-dev libjpeg62-turbo-dev             # image-folder data sets
  dataset-fashion-mnist                      # the default data set
  check libsubunit-dev                       # unit tests
  clang libclang-rt-14-dev                   # the ASan/UBSan build and libFuzzer (docs/reliability.md)
  libopenblas-dev                            # bench/: the CPU peer for GEMM
  chromium                                   # tests: lirf verify's HTML report loads cleanly
                                             # (115 MB download, 26 s to install, measured)
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
