#!/usr/bin/env bash
# tests/cli/test_run.sh BIN SRC - the statefleet command line, end to end:
# exit codes, output shapes, local functions, history, virtual time.
set -u
bin=$1; src=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
check() { # name, condition result
  if [ "$2" = 0 ]; then passes=$((passes+1)); else echo "FAIL: $1" >&2; fails=$((fails+1)); fi
}
mkdir -p "$tmp/fn"
cat > "$tmp/fn/double" <<'F'
#!/bin/sh
read -r line; n=$(echo "$line" | sed 's/[^0-9]//g'); echo "{\"n\":$((n*2))}"
F
cat > "$tmp/fn/oops" <<'F'
#!/bin/sh
cat >/dev/null; echo '{"errorType":"ModelDiverged","errorMessage":"loss is NaN"}'
F
cat > "$tmp/fn/crash" <<'F'
#!/bin/sh
cat >/dev/null; exit 3
F
chmod +x "$tmp/fn/"*

cat > "$tmp/task.json" <<'F'
{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:123456789012:function:double","End":true}}}
F
out=$("$bin" run "$tmp/task.json" --input '{"n":21}' --functions "$tmp/fn"); rc=$?
check "legacy lambda ARN runs the function" $([ $rc = 0 ] && [ "$out" = '{"n":42}' ]; echo $?)

cat > "$tmp/invoke.json" <<'F'
{"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:states:::lambda:invoke","Parameters":{"FunctionName":"arn:aws:lambda:us-east-1:1:function:double:$LATEST","Payload":{"n.$":"$.n"}},"OutputPath":"$.Payload","End":true}}}
F
out=$("$bin" run "$tmp/invoke.json" --input '{"n":5}' --functions "$tmp/fn"); rc=$?
check "lambda:invoke wraps the result in Payload" $([ $rc = 0 ] && [ "$out" = '{"n":10}' ]; echo $?)

sed 's/double/oops/' "$tmp/task.json" > "$tmp/oops.json"
err=$("$bin" run "$tmp/oops.json" --functions "$tmp/fn" 2>&1 >/dev/null); rc=$?
check "errorType names the failure, exit 1" $([ $rc = 1 ] && echo "$err" | grep -q "FAILED: ModelDiverged"; echo $?)
out=$("$bin" run "$tmp/oops.json" --functions "$tmp/fn" --json); rc=$?
check "--json reports FAILED with exit 0" $([ $rc = 0 ] && echo "$out" | grep -q '"status":"FAILED","error":"ModelDiverged"'; echo $?)

sed 's/double/crash/' "$tmp/task.json" > "$tmp/crash.json"
out=$("$bin" run "$tmp/crash.json" --functions "$tmp/fn" --json)
check "a non-zero exit is Runtime.ExitError" $(echo "$out" | grep -q '"error":"Runtime.ExitError"'; echo $?)

sed 's/double/absent/' "$tmp/task.json" > "$tmp/absent.json"
out=$("$bin" run "$tmp/absent.json" --functions "$tmp/fn" --json)
check "a missing function is a clear failure" $(echo "$out" | grep -q 'Function not found: absent'; echo $?)

cat > "$tmp/wait.json" <<'F'
{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":86400,"Next":"P"},"P":{"Type":"Pass","Result":"done","End":true}}}
F
out=$(timeout 20 "$bin" run "$tmp/wait.json" --virtual-time); rc=$?
check "--virtual-time makes a one-day Wait instant" $([ $rc = 0 ] && [ "$out" = '"done"' ]; echo $?)

out=$("$bin" run "$tmp/wait.json" --virtual-time --json --history)
check "--history lists AWS event types" $(echo "$out" | grep -q '"type":"WaitStateExited"' && echo "$out" | grep -q '"type":"ExecutionSucceeded"'; echo $?)

echo '{"n":3}' > "$tmp/in.json"
out=$("$bin" run "$tmp/task.json" --input @"$tmp/in.json" --functions "$tmp/fn")
check "--input @FILE" $([ "$out" = '{"n":6}' ]; echo $?)

"$bin" run "$tmp/task.json" --input '{"n":' >/dev/null 2>"$tmp/e"; rc=$?
check "bad input JSON exits 2 naming the column" $([ $rc = 2 ] && grep -q "column" "$tmp/e"; echo $?)

echo '{"StartAt":"X","States":{"A":{"Type":"Pass","End":true}}}' > "$tmp/bad.json"
"$bin" validate "$tmp/bad.json" 2>"$tmp/e"; rc=$?
check "validate refuses with a location, exit 2" $([ $rc = 2 ] && grep -q "StartAt" "$tmp/e"; echo $?)
"$bin" run "$tmp/bad.json" --json >/dev/null 2>&1; rc=$?
check "run with a bad definition exits 2" $([ $rc = 2 ]; echo $?)
"$bin" validate "$tmp/task.json" >/dev/null; rc=$?
check "validate accepts a good definition" $([ $rc = 0 ]; echo $?)

printf '{"StartAt":"A",\n "States": {"A": {"Type":"Pass",,}}}' > "$tmp/syntax.json"
"$bin" validate "$tmp/syntax.json" 2>"$tmp/e"; rc=$?
check "a JSON syntax error names its line" $([ $rc = 2 ] && grep -q "line 2" "$tmp/e"; echo $?)

echo '{"QueryLanguage":"JSONata","StartAt":"A","States":{"A":{"Type":"Pass","End":true}}}' > "$tmp/jsonata.json"
"$bin" validate "$tmp/jsonata.json" 2>"$tmp/e"; rc=$?
check "JSONata is refused as not supported yet" $([ $rc = 2 ] && grep -qi "not supported yet" "$tmp/e"; echo $?)

cat > "$tmp/fail.json" <<'F'
{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Custom","Cause":"because"}}}
F
"$bin" run "$tmp/fail.json" >/dev/null 2>"$tmp/e"; rc=$?
check "a failed execution exits 1 with error and cause" $([ $rc = 1 ] && grep -q "Custom: because" "$tmp/e"; echo $?)

cat > "$tmp/timeout.json" <<'F'
{"TimeoutSeconds":2,"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":60,"End":true}}}
F
out=$("$bin" run "$tmp/timeout.json" --virtual-time --json)
check "execution TimeoutSeconds gives TIMED_OUT" $([ "$out" = '{"status":"TIMED_OUT"}' ]; echo $?)

ex="$src/examples/ml-pipeline"
out=$("$bin" run "$ex/pipeline.json" --functions "$ex/functions" \
      --input "{\"workdir\":\"$tmp/work\",\"rows\":600,\"seed\":3,\"min_accuracy\":0.7}")
check "the README's example pipeline deploys a model" $(echo "$out" | grep -q '"summary":"3 trials, best accuracy'; echo $?)

echo "$passes passed, $fails failed"
[ $fails = 0 ]
