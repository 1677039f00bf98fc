#!/usr/bin/env bash
# scripts/demo.sh - the main job: build, then run the example ML pipeline
# (fetch data, train a model per hyperparameter set in a Map, pick the best,
# gate on accuracy) end to end with `statefleet run`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/build.sh" "$root/build" >/dev/null
ex="$root/examples/ml-pipeline"
work=$(mktemp -d /tmp/statefleet-demo.XXXXXX)
input=$(printf '{"workdir":"%s","rows":2000,"seed":7,"min_accuracy":0.8}' "$work")
echo "statefleet run $ex/pipeline.json (work files in $work)" >&2
"$root/build/statefleet" run "$ex/pipeline.json" --input "$input" --functions "$ex/functions" "$@"
