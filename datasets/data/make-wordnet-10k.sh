#!/bin/sh
# Regenerates the bundled wordnet-10k sample from the shared
# wordnet-minilm-384-angular set, then checks the result against SHA256SUMS.
#
# usage: datasets/data/make-wordnet-10k.sh [SHARED_DATASETS_DIR]
#   SHARED_DATASETS_DIR defaults to ../shared/datasets beside the workspace.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
workspace=$(cd "$here/../.." && pwd)
src=${1:-$workspace/../shared/datasets}
record=$((4 + 384 * 4)) # one .fvecs record: an int32 dimension, then 384 float32

head -c $((10000 * record)) "$src/wordnet-minilm-384-angular_base.fvecs" >"$here/wordnet-10k_base.fvecs"
head -c $((200 * record)) "$src/wordnet-minilm-384-angular_query.fvecs" >"$here/wordnet-10k_query.fvecs"
cp "$src/wordnet-3.0.LICENSE.txt" "$here/wordnet-3.0.LICENSE.txt"
cd "$workspace"
cargo run --release -p waypoint-server -- gt \
    "$here/wordnet-10k_base.fvecs" "$here/wordnet-10k_query.fvecs" \
    --k 100 --metric cosine -o "$here/wordnet-10k_groundtruth.ivecs"
cd "$here" && sha256sum -c SHA256SUMS
