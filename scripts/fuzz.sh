#!/usr/bin/env bash
# Builds each libFuzzer target (Tests/Fuzz/*Fuzzer.swift) against the modules it names on its
# `// fuzz-modules:` line, compiled with the fuzzer's coverage and AddressSanitizer in their own
# build folder (.build-fuzz), and runs it for SECONDS (default 60) from its committed seed corpus
# (Tests/Fuzz/corpus/<target>); FUZZ_TARGETS names a subset. New inputs go to a scratch copy of
# the corpus; a crash is kept as
# .build-fuzz/crash-<target>-* and fails the run (README, "What dpohost guarantees").
# A target may also name plugins (`// fuzz-plugins: Module+Dependency ...`): each is linked from
# its modules' instrumented objects into a shared library in one folder, passed to the target as
# DPOHOST_FUZZ_PLUGINS, so the plugins' own code is fuzzed as it runs in dpohost.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scratch=.build-fuzz
debug="$scratch/debug"
# C modules' maps: the SDK header and zlib's shim are in the tree, SwiftPM writes the others.
maps=(-Xcc -fmodule-map-file=SDK/include/module.modulemap -Xcc -fmodule-map-file=Plugins/Datasets/CZlib/module.modulemap
      -Xcc -ISources/CProcessorProbe/include -Xcc -ISDK/include -Xcc -fmodule-map-file=Sources/CMPI/module.modulemap)
for flag in $(pkg-config --cflags-only-I ompi-c); do maps+=(-Xcc "$flag"); done
status=0
for source in Tests/Fuzz/*Fuzzer.swift; do
  target=$(basename "$source" .swift)
  # FUZZ_TARGETS (names separated by spaces) runs only those.
  [ -z "${FUZZ_TARGETS:-}" ] || [[ " $FUZZ_TARGETS " == *" $target "* ]] || continue
  modules=$(sed -n 's|^// fuzz-modules: ||p' "$source")
  libraries=$(sed -n 's|^// fuzz-libraries: ||p' "$source")
  plugins=$(sed -n 's|^// fuzz-plugins: ||p' "$source")
  for module in $modules $(echo "$plugins" | tr '+' ' '); do
    swift build --scratch-path "$scratch" --target "$module" \
      -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address
  done
  objects=()
  for module in $modules; do
    [ -d "$debug/$module.build" ] || continue  # a headers-only C module builds nothing
    while IFS= read -r o; do objects+=("$o"); done < <(find "$debug/$module.build" -name '*.o' | sort)
  done
  links=()
  for library in $libraries; do links+=(-l"$library"); done
  # A C module's map: written by SwiftPM, or a dependency's own (Yams' CYaml).
  for module in $modules; do
    for map in "$debug/$module.build/module.modulemap" "$scratch"/checkouts/*/Sources/"$module"/include/module.modulemap; do
      [ -e "$map" ] && links+=(-Xcc -fmodule-map-file="$map")
    done
  done
  swiftc -sanitize=fuzzer,address -parse-as-library -I "$debug/Modules" "${maps[@]}" \
    "$source" "${objects[@]}" "${links[@]}" -o "$debug/$target" 2> >(grep -v "Cannot export local symbol" >&2)
  pluginDir="$debug/$target-plugins"
  rm -rf "$pluginDir"; mkdir -p "$pluginDir"
  for plugin in $plugins; do
    pluginObjects=()
    for module in $(echo "$plugin" | tr '+' ' '); do
      [ -d "$debug/$module.build" ] || continue
      while IFS= read -r o; do pluginObjects+=("$o"); done < <(find "$debug/$module.build" -name '*.o' | sort)
    done
    swiftc -emit-library -sanitize=address "${pluginObjects[@]}" "${links[@]}" -o "$pluginDir/${plugin%%+*}.so" \
      2> >(grep -v "Cannot export local symbol" >&2)
  done
  work=$(mktemp -d)
  cp Tests/Fuzz/corpus/"$target"/* "$work"/
  echo "fuzz: $target for ${seconds}s from $(ls "$work" | wc -l) seeds"
  if ! DPOHOST_FUZZ_PLUGINS="$pluginDir" LSAN_OPTIONS=suppressions=Tests/Sanitizers/lsan.supp "$debug/$target" "$work" -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
       -artifact_prefix="$scratch/crash-$target-" -print_final_stats=1 2>"$scratch/$target.log"; then
    tail -40 "$scratch/$target.log"; status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::peak_rss_mb" "$scratch/$target.log" || true
  rm -rf "$work"
done
exit $status
