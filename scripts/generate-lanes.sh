#!/usr/bin/env bash
# Writes the 8-lane (AVX2, TensorCore) and 16-lane (AVX-512, Kernels512) row-kernel math from one
# template. `--check` fails when a generated file differs from what the template gives (CI).
set -euo pipefail
cd "$(dirname "$0")/.."
template=scripts/templates/Lanes.swift.in
render() { # width half unit name or-expression
  sed -e "s/@W@/$1/g" -e "s/@HALF@/$2/g" -e "s/@UNIT@/$3/g" -e "s/@NAME@/$4/g" -e "s/@ANY_OR@/$5/g" "$template"
}
targets=(Sources/TensorCore/Kernels/Lanes8.swift Sources/Kernels512/Lanes16.swift)
outputs=(
  "$(render 8 4 'AVX2 + FMA' Lanes8 '(bits[0] | bits[1]) | (bits[2] | bits[3])')"
  "$(render 16 8 'AVX-512' Lanes16 '((bits[0] | bits[1]) | (bits[2] | bits[3])) | ((bits[4] | bits[5]) | (bits[6] | bits[7]))')"
)
status=0
for i in 0 1; do
  if [ "${1:-}" = "--check" ]; then
    if ! diff -q <(printf '%s\n' "${outputs[$i]}") "${targets[$i]}" >/dev/null; then
      echo "generate-lanes: ${targets[$i]} is stale; run scripts/generate-lanes.sh" >&2; status=1
    fi
  else
    printf '%s\n' "${outputs[$i]}" > "${targets[$i]}"
  fi
done
exit $status
