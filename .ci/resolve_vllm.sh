#!/usr/bin/env bash
# Metadata-only resolver check (uv pip compile: no wheel is downloaded, no CUDA build installed): lima-hf must
# resolve together with the newest vLLM that resolves on its own, and with TRL's own `vllm` extra.
set -euo pipefail
cd "$(dirname "$0")/.."
UV="${UV:-uv}"
compile() { "$UV" pip compile --quiet --no-header --python-version 3.11 --python-platform x86_64-manylinux_2_28 "$@"; }
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "vllm" > "$work/vllm.in"
newest="$(compile "$work/vllm.in" | sed -n 's/^vllm==//p')"  # the newest vLLM installable from the index at all
printf -- '-e .[vllm]\nvllm==%s\n' "$newest" > "$work/lima-vllm.in"
printf -- '-e .\ntrl[vllm]\n' > "$work/lima-trl.in"
for input in lima-vllm lima-trl; do
    compile "$work/$input.in" -o "$work/$input.txt"
    echo "$(tr '\n' ' ' < "$work/$input.in")-> $(grep -E '^(vllm|torch|transformers|trl)==' "$work/$input.txt" | tr '\n' ' ')"
done
