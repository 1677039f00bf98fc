# bench/need_python.sh - sourced by the benches that measure against
# scikit-learn and numpy: installs Debian's python3-sklearn and
# python3-numpy when missing (the test suite does not need them, so
# scripts/setup.sh does not install them).
for p in python3-sklearn python3-numpy; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    echo "bench: installing $p" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
  fi
done
