#!/usr/bin/env bash
# Waypoint and its peers (hnswlib, FAISS, USearch) back to back on the same
# files, parameters and machine; one CSV each and one plot with all of them.
# Not part of CI: it installs the peers into a virtualenv with pip.
#
#   benches/compare.sh [DATASETS_DIR] [NAME]
#   (defaults: ../shared/datasets and wordnet-minilm-384-angular)
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/datasets}
name=${2:-wordnet-minilm-384-angular}
metric=${METRIC:-cosine}
m=${M:-16}
efc=${EFC:-200}
efs=${EFS:-10,20,40,80,160,320}
threads=${THREADS:-$(nproc)}
out=benches/results
venv=${VENV:-benches/.venv}
mkdir -p "$out"

if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet numpy hnswlib faiss-cpu usearch
fi

files=(--base "$data/${name}_base.fvecs" --queries "$data/${name}_query.fvecs" --gt "$data/${name}_groundtruth.ivecs")
"$venv/bin/python" benches/peers.py "${files[@]}" --metric "$metric" --m "$m" --efc "$efc" \
  --ef "$efs" --threads "$threads" --csv "$out/$name-peers.csv"
cargo run --release -q -p waypoint-benches --bin ann-bench -- "${files[@]}" --metric "$metric" \
  --m "$m" --ef-construction "$efc" --ef "$efs" --threads "$threads" \
  --csv "$out/$name-waypoint.csv" --plot "$out/$name.png" --peers "$out/$name-peers.csv"
echo "wrote $out/$name-waypoint.csv, $out/$name-peers.csv and $out/$name.png"
