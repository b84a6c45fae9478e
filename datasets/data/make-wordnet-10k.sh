#!/bin/sh
# Regenerates the bundled wordnet-10k sample from the shared
# wordnet-minilm-384-angular set, then checks the result against SHA256SUMS.
# Everything is built in a temporary directory and only moved into place once
# complete, so a missing or broken source never damages the bundled files.
#
# usage: datasets/data/make-wordnet-10k.sh [SHARED_DATASETS_DIR]
#   SHARED_DATASETS_DIR defaults to ../shared/datasets beside the workspace.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
src=${1:-$workspace/../shared/datasets}
record=$((4 + 384 * 4)) # one .fvecs record: an int32 dimension, then 384 float32

for f in wordnet-minilm-384-angular_base.fvecs wordnet-minilm-384-angular_query.fvecs wordnet-3.0.LICENSE.txt; do
    if [ ! -r "$src/$f" ]; then
        echo "error: $src/$f is missing; pass the shared datasets directory as the first argument" >&2
        exit 1
    fi
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c $((10000 * record)) "$src/wordnet-minilm-384-angular_base.fvecs" >"$tmp/wordnet-10k_base.fvecs"
head -c $((200 * record)) "$src/wordnet-minilm-384-angular_query.fvecs" >"$tmp/wordnet-10k_query.fvecs"
cp "$src/wordnet-3.0.LICENSE.txt" "$tmp/wordnet-3.0.LICENSE.txt"
cd "$workspace"
cargo run --release -p waypoint-server -- gt \
    "$tmp/wordnet-10k_base.fvecs" "$tmp/wordnet-10k_query.fvecs" \
    --k 100 --metric cosine -o "$tmp/wordnet-10k_groundtruth.ivecs"
(cd "$tmp" && sha256sum -c "$here/SHA256SUMS")
mv "$tmp"/wordnet-10k_* "$tmp/wordnet-3.0.LICENSE.txt" "$here/"
