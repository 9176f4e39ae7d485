#!/usr/bin/env bash
# Builds each libFuzzer target (Tests/Fuzz/*Fuzzer.swift) against the modules it names on its
# `// fuzz-modules:` line, compiled with the fuzzer's coverage and AddressSanitizer in their own
# build folder (.build-fuzz), and runs it for SECONDS (default 60) from its committed seed corpus
# (Tests/Fuzz/corpus/<target>). New inputs go to a scratch copy of the corpus; a crash is kept as
# .build-fuzz/crash-<target>-* and fails the run (README, "What dpohost guarantees").
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scratch=.build-fuzz
debug="$scratch/debug"
# C modules' maps: the SDK header and zlib's shim are in the tree, SwiftPM writes the others.
maps=(-Xcc -fmodule-map-file=SDK/include/module.modulemap -Xcc -fmodule-map-file=Plugins/Datasets/CZlib/module.modulemap
      -Xcc -ISources/CProcessorProbe/include -Xcc -ISDK/include)
status=0
for source in Tests/Fuzz/*Fuzzer.swift; do
  target=$(basename "$source" .swift)
  modules=$(sed -n 's|^// fuzz-modules: ||p' "$source")
  libraries=$(sed -n 's|^// fuzz-libraries: ||p' "$source")
  for module in $modules; do
    swift build --scratch-path "$scratch" --target "$module" \
      -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
  done
  objects=()
  for module in $modules; do
    for o in "$debug/$module.build/"*.o; do [ -e "$o" ] && objects+=("$o"); done
  done
  links=()
  for library in $libraries; do links+=(-l"$library"); done
  for module in $modules; do
    [ -e "$debug/$module.build/module.modulemap" ] && links+=(-Xcc -fmodule-map-file="$debug/$module.build/module.modulemap")
  done
  swiftc -sanitize=fuzzer,address -parse-as-library -I "$debug/Modules" "${maps[@]}" \
    "$source" "${objects[@]}" "${links[@]}" -o "$debug/$target" 2> >(grep -v "Cannot export local symbol" >&2)
  work=$(mktemp -d)
  cp Tests/Fuzz/corpus/"$target"/* "$work"/
  echo "fuzz: $target for ${seconds}s from $(ls "$work" | wc -l) seeds"
  if ! LSAN_OPTIONS=suppressions=Tests/Fuzz/lsan.supp "$debug/$target" "$work" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
       -artifact_prefix="$scratch/crash-$target-" -print_final_stats=1 2>"$scratch/$target.log"; then
    tail -40 "$scratch/$target.log"; status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$scratch/$target.log" || true
  rm -rf "$work"
done
exit $status
