#!/usr/bin/env bash
# Builds the model-reader fuzzer (libFuzzer + AddressSanitizer) and runs it.
# The interpreter's sources and the fuzz entry point are compiled as one module, so no package manifest is needed.
# Usage: Fuzz/run.sh [libFuzzer flags]   e.g. Fuzz/run.sh -max_total_time=600   (default: -runs=20000)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/opt/swift/usr/bin:$PATH
out=.build-fuzz
mkdir -p "$out" "$out/corpus"
binary="$out/model-reader-fuzzer"
sources=(Sources/EarshotInference/*.swift Sources/EarshotInference/Kernels/*.swift Fuzz/ModelReaderFuzzer/*.swift)
csources=(Sources/CEarshotKernels/*.c)
if [ ! -x "$binary" ] || [ -n "$(find "${sources[@]}" "${csources[@]}" -newer "$binary" 2>/dev/null | head -1)" ]; then
  echo "fuzz: building $binary (swiftc -sanitize=fuzzer,address; the C kernels with clang, instrumented alike)"
  mkdir -p "$out/include"
  printf 'module CEarshotKernels {\n  header "%s"\n  export *\n}\n' "$PWD/Sources/CEarshotKernels/include/earshot_kernels.h" > "$out/include/module.modulemap"
  clang -O2 -g -fsanitize=fuzzer-no-link,address -I Sources/CEarshotKernels/include -c "${csources[@]}" -o "$out/earshot_kernels.o"
  swiftc -O -g -parse-as-library -sanitize=fuzzer,address -module-name EarshotFuzz -I "$out/include" \
    "${sources[@]}" "$out/earshot_kernels.o" -o "$binary"
fi
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(-runs=20000)
echo "fuzz: $binary ${args[*]} (seed corpus Fuzz/corpus, new inputs in $out/corpus)"
# Swift's own crash reporter would trip AddressSanitizer; let libFuzzer report traps instead.
SWIFT_BACKTRACE=enable=no "$binary" -max_len=131072 -artifact_prefix="$out/" "${args[@]}" "$out/corpus" Fuzz/corpus
