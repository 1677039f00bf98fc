#!/usr/bin/env bash
# tests/cli/test_run_embedded.sh BIN SRC - `statefleet run` on its default
# path: a coordinator embedded in the command, on a SQLite file, with local
# statefleet-worker processes running the functions; --db keeps the
# database; --in-process and --virtual-time still run the engine alone.
set -u
bin=$1
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0; passes=0
check() { # name, condition result
  if [ "$2" = 0 ]; then passes=$((passes+1)); else echo "FAIL: $1" >&2; fails=$((fails+1)); fi
}
sf() { timeout 60 "$bin" "$@"; }

mkdir -p "$tmp/fn" "$tmp/t"
# Which program ran the function: the process it is a child of.
cat > "$tmp/fn/double" <<'F'
#!/bin/sh
read -r line; n=$(echo "$line" | sed 's/[^0-9]//g')
echo "{\"n\":$((n*2)),\"ranBy\":\"$(basename "$(readlink /proc/$PPID/exe)")\"}"
F
cat > "$tmp/fn/oops" <<'F'
#!/bin/sh
cat >/dev/null; echo '{"errorType":"ModelDiverged","errorMessage":"loss is NaN"}'
F
cat > "$tmp/fn/slow" <<'F'
#!/bin/sh
cat >/dev/null; exec sleep 30
F
chmod +x "$tmp/fn/"*
cat > "$tmp/pipeline.json" <<'F'
{"StartAt":"One","States":{
  "One":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:double","Next":"Two"},
  "Two":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke",
         "Parameters":{"FunctionName":"double","Payload":{"n.$":"$.n"}},"OutputPath":"$.Payload","End":true}}}
F
# The temporary database goes here, so that what is left behind shows.
export TMPDIR=$tmp/t
leftovers() { ls -A "$tmp/t"; }
workers() { pgrep -f -- "--functions $tmp/fn" >/dev/null; } # 0 while any runs

out=$(sf run "$tmp/pipeline.json" --input '{"n":3}' --functions "$tmp/fn"); rc=$?
check "a function pipeline runs on local workers" \
  $([ $rc = 0 ] && [ "$out" = '{"n":12,"ranBy":"statefleet-worker"}' ]; echo $?)
check "the temporary database is removed" $([ -z "$(leftovers)" ]; echo $?)
check "no worker outlives the run" $(! workers; echo $?)

out=$(sf run "$tmp/pipeline.json" --input '{"n":1}' --functions "$tmp/fn" --json --history)
check "--json --history through the coordinator" \
  $(echo "$out" | grep -q '^{"status":"SUCCEEDED","output":{"n":4,' &&
    echo "$out" | grep -q '"type":"LambdaFunctionSucceeded"' &&
    echo "$out" | grep -q '"type":"ExecutionSucceeded"'; echo $?)

sed 's/function:double/function:oops/' "$tmp/pipeline.json" > "$tmp/oops.json"
sf run "$tmp/oops.json" --functions "$tmp/fn" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "a failed function exits 1 naming its error" \
  $([ $rc = 1 ] && [ ! -s "$tmp/o" ] && grep -q "^FAILED: ModelDiverged: .*loss is NaN" "$tmp/e"; echo $?)

echo '{"StartAt":"X","States":{"A":{"Type":"Pass","End":true}}}' > "$tmp/bad.json"
sf run "$tmp/bad.json" >/dev/null 2>"$tmp/e"; rc=$?
check "a bad definition exits 2, naming the problem" \
  $([ $rc = 2 ] && grep -q "StartAt" "$tmp/e" && [ -z "$(leftovers)" ]; echo $?)

sf run "$tmp/pipeline.json" --input '{"n":5}' --functions "$tmp/fn" --db "$tmp/keep.db" >/dev/null
sf run "$tmp/pipeline.json" --input '{"n":6}' --functions "$tmp/fn" --db "$tmp/keep.db" >/dev/null
rows=$(/usr/bin/python3 - "$tmp/keep.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
for status, output in db.execute("SELECT status, output FROM executions ORDER BY id"):
    print(status, output)
PY
)
check "--db keeps the database with the executions in it" \
  $([ "$rows" = 'SUCCEEDED {"n":20,"ranBy":"statefleet-worker"}
SUCCEEDED {"n":24,"ranBy":"statefleet-worker"}' ]; echo $?)

out=$(sf run "$tmp/pipeline.json" --input '{"n":3}' --functions "$tmp/fn" --local-workers 1)
check "--local-workers N" $([ "$out" = '{"n":12,"ranBy":"statefleet-worker"}' ]; echo $?)
sf run "$tmp/pipeline.json" --local-workers 0 >/dev/null 2>&1; rc=$?
check "--local-workers 0 is bad usage" $([ $rc = 2 ]; echo $?)

out=$(sf run "$tmp/pipeline.json" --input '{"n":3}' --functions "$tmp/fn" --in-process)
check "--in-process runs functions as children of the command" \
  $([ "$out" = '{"n":12,"ranBy":"statefleet"}' ]; echo $?)
out=$(sf run "$tmp/pipeline.json" --input '{"n":3}' --functions "$tmp/fn" --virtual-time)
check "--virtual-time runs in the process too" $([ "$out" = '{"n":12,"ranBy":"statefleet"}' ]; echo $?)
sf run "$tmp/pipeline.json" --in-process --db "$tmp/x.db" >/dev/null 2>&1; rc=$?
check "--db with --in-process is bad usage" $([ $rc = 2 ] && [ ! -e "$tmp/x.db" ]; echo $?)

# SIGTERM while a function runs: the execution is stopped, the workers
# with it, and the temporary database goes.
sed 's/function:double/function:slow/' "$tmp/pipeline.json" > "$tmp/slow.json"
"$bin" run "$tmp/slow.json" --functions "$tmp/fn" >"$tmp/o" 2>"$tmp/e" &
pid=$!
for _ in $(seq 1 100); do pgrep -f "sleep 30" -P "$(pgrep -d, -f -- "--functions $tmp/fn")" >/dev/null 2>&1 && break; sleep 0.1; done
kill -TERM "$pid"
timeout 20 tail --pid="$pid" -f /dev/null; wait "$pid"; rc=$?; pid=
check "SIGTERM stops the execution: ABORTED, exit 1" \
  $([ $rc = 1 ] && grep -q "^ABORTED: statefleet.Interrupted" "$tmp/e"; echo $?)
check "and leaves no database or worker behind" $([ -z "$(leftovers)" ] && ! workers; echo $?)

echo "$passes passed, $fails failed"
[ $fails = 0 ]
