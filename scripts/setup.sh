#!/usr/bin/env bash
# scripts/setup.sh - install what the build and tests need on Debian 12, but
# only what is missing, so a prepared machine pays nothing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libjansson-dev libcriterion-dev libssl-dev python3
      libsqlite3-dev libmicrohttpd-dev libcurl4-openssl-dev libmsgpack-dev
      libzmq3-dev libczmq-dev libhwloc-dev hwloc iproute2  # fleet: ZeroMQ, CURVE, topology, netns tests
      libopenblas-dev zlib1g-dev dataset-fashion-mnist     # kernels: BLAS, model.tar.gz, the MLP's data
      awscli python3-boto3)  # the real clients the coordinator is tested with
need=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
