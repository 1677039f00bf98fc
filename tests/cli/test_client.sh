#!/usr/bin/env bash
# tests/cli/test_client.sh BIN SRC - the coordinator commands of the
# statefleet command line (create, start, describe, list, history, stop,
# send-task-*) against a real statefleet-coordinator on loopback: output
# shapes, paging, exit codes and the errors a person sees.
#
# STATEFLEET_TEST_ENDPOINT=URL runs the same checks against a coordinator
# that is already serving (or moto's server) instead of starting one.
set -u
bin=$1
coord=$(dirname "$bin")/statefleet-coordinator
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
# Loopback must not go through a proxy that the environment names.
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY

if [ -n "${STATEFLEET_TEST_ENDPOINT:-}" ]; then
  endpoint=$STATEFLEET_TEST_ENDPOINT
else
  if [ ! -x "$coord" ]; then echo "FAIL: no coordinator at $coord" >&2; exit 1; fi
  "$coord" --db "$tmp/sf.db" --http 127.0.0.1:0 --ready-file "$tmp/ready" \
    --region us-east-1 --account 123456789012 2>"$tmp/coord.log" &
  pid=$!
  endpoint=
  for _ in $(seq 1 200); do # 20 s; the URL counts once it reads the same twice
    if [ -s "$tmp/ready" ]; then
      a=$(cat "$tmp/ready"); sleep 0.05; b=$(cat "$tmp/ready")
      if [ -n "$a" ] && [ "$a" = "$b" ]; then endpoint=$a; break; fi
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$endpoint" ]; then
    echo "FAIL: the coordinator did not become ready; its log:" >&2; cat "$tmp/coord.log" >&2; exit 1
  fi
fi
export STATEFLEET_ENDPOINT=$endpoint
sf() { "$bin" "$@"; }
iso='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z'
acct=123456789012

# Operations the command line does not have (activities' workers), raw.
api() { # OP JSON: prints the answer's body
  python3 - "$endpoint" "$1" "$2" <<'PY'
import sys, urllib.request
url, op, body = sys.argv[1:]
req = urllib.request.Request(url, data=body.encode(), headers={
    "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + op})
print(urllib.request.urlopen(req, timeout=70).read().decode())
PY
}
field() { # KEY...: a field of the JSON on stdin (strings bare, the rest as JSON)
  python3 -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v))' "$@"
}
wait_status() { # ARN STATUS: describe until it shows STATUS (10 s at most)
  for _ in $(seq 1 100); do
    sf describe "$1" 2>/dev/null | grep -q "\"status\": \"$2\"" && return 0
    sleep 0.1
  done
  return 1
}

cat > "$tmp/pass.json" <<'F'
{"StartAt":"P","States":{"P":{"Type":"Pass","Parameters":{"got.$":"$.n","v":1},"End":true}}}
F
sed 's/"v":1/"v":2/' "$tmp/pass.json" > "$tmp/pass2.json"
cat > "$tmp/fail.json" <<'F'
{"StartAt":"F","States":{"F":{"Type":"Fail","Error":"Custom","Cause":"because"}}}
F
cat > "$tmp/slow.json" <<'F'
{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"Next":"P"},"P":{"Type":"Pass","Result":"late","End":true}}}
F
cat > "$tmp/long.json" <<'F'
{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":600,"End":true}}}
F
cat > "$tmp/map.json" <<'F'
{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.items",
  "ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}}
F
echo '{"StartAt":"X","States":{"A":{"Type":"Pass","End":true}}}' > "$tmp/bad.json"

# ---- create ----
out=$(sf create hello "$tmp/pass.json"); rc=$?
hello=arn:aws:states:us-east-1:$acct:stateMachine:hello
check "create prints the state machine's ARN" $([ $rc = 0 ] && [ "$out" = "$hello" ]; echo $?)
sf create hello "$tmp/pass2.json" >/dev/null 2>"$tmp/e"; rc=$?
check "create of a taken name: StateMachineAlreadyExists, exit 1" \
  $([ $rc = 1 ] && grep -q '^statefleet: CreateStateMachine: StateMachineAlreadyExists: ' "$tmp/e"; echo $?)
out=$(sf create hello "$tmp/pass2.json" --update); rc=$?
check "create --update updates the one that exists" $([ $rc = 0 ] && [ "$out" = "$hello" ]; echo $?)
sf describe "$hello" > "$tmp/o"; rc=$?
check "describe of a state machine decodes its (updated) definition" \
  $([ $rc = 0 ] && grep -q '"definition": {' "$tmp/o" && grep -q '"v": 2' "$tmp/o" &&
    grep -Eq "\"creationDate\": \"$iso\"" "$tmp/o"; echo $?)
sf create broken "$tmp/bad.json" >/dev/null 2>"$tmp/e"; rc=$?
check "an invalid definition is the coordinator's InvalidDefinition, exit 1" \
  $([ $rc = 1 ] && grep -q '^statefleet: CreateStateMachine: InvalidDefinition: ' "$tmp/e"; echo $?)
sf create nofile "$tmp/absent.json" >/dev/null 2>&1; rc=$?
check "create with a missing definition file exits 2" $([ $rc = 2 ]; echo $?)
sf create x "$tmp/pass.json" --type BATCH >/dev/null 2>&1; rc=$?
check "create --type other than STANDARD/EXPRESS exits 2" $([ $rc = 2 ]; echo $?)
sf create onlyname >/dev/null 2>"$tmp/e"; rc=$?
check "create without a definition exits 2 with usage" $([ $rc = 2 ] && grep -q '^usage: statefleet create' "$tmp/e"; echo $?)
for m in fail slow long map; do sf create "$m" "$tmp/$m.json" --type STANDARD >/dev/null || check "create $m" 1; done

# ---- start ----
sf start hello --input '{"n":21}' --name first --wait > "$tmp/o"; rc=$?
first=arn:aws:states:us-east-1:$acct:execution:hello:first
check "start --wait prints the execution's ARN, then its output" \
  $([ $rc = 0 ] && [ "$(sed -n 1p "$tmp/o")" = "$first" ] &&
    [ "$(sed -n 2p "$tmp/o" | field got)" = 21 ] && [ "$(sed -n 2p "$tmp/o" | field v)" = 2 ]; echo $?)
echo '{"n":5}' > "$tmp/in.json"
out=$(sf start "$hello" --input @"$tmp/in.json"); rc=$?
check "start by ARN with --input @FILE prints a fresh execution ARN" \
  $([ $rc = 0 ] && [[ $out == arn:aws:states:us-east-1:$acct:execution:hello:* ]] && [ "$out" != "$first" ]; echo $?)
second=$out
sf start fail --wait >"$tmp/o" 2>"$tmp/e"; rc=$?
check "start --wait on a failing execution: exit 1, status, error and cause" \
  $([ $rc = 1 ] && grep -q 'FAILED: Custom: because' "$tmp/e"; echo $?)
failed=$(sed -n 1p "$tmp/o")
t0=$(date +%s%N)
out=$(sf start slow --wait); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "start --wait polls through a 1 s Wait" \
  $([ $rc = 0 ] && [ "$(echo "$out" | sed -n 2p)" = '"late"' ] && [ $ms -ge 900 ] && [ $ms -lt 8000 ]; echo $?)
sf start nosuch >/dev/null 2>"$tmp/e"; rc=$?
check "start of an unknown name: exit 1, StateMachineDoesNotExist" \
  $([ $rc = 1 ] && grep -q 'StateMachineDoesNotExist' "$tmp/e"; echo $?)
sf start "arn:aws:states:us-east-1:$acct:stateMachine:nosuch" >/dev/null 2>"$tmp/e"; rc=$?
check "start of an unknown ARN: the coordinator's StateMachineDoesNotExist" \
  $([ $rc = 1 ] && grep -q '^statefleet: StartExecution: StateMachineDoesNotExist: ' "$tmp/e"; echo $?)
sf start hello --name first >/dev/null 2>"$tmp/e"; rc=$?
check "start with a used name: ExecutionAlreadyExists" \
  $([ $rc = 1 ] && grep -q '^statefleet: StartExecution: ExecutionAlreadyExists: ' "$tmp/e"; echo $?)
sf start hello --input '{"n":' >/dev/null 2>"$tmp/e"; rc=$?
check "start with bad --input JSON exits 2 naming the column" $([ $rc = 2 ] && grep -q column "$tmp/e"; echo $?)
sf start >/dev/null 2>"$tmp/e"; rc=$?
check "start without a state machine exits 2 with usage" $([ $rc = 2 ] && grep -q '^usage: statefleet start' "$tmp/e"; echo $?)

# ---- describe ----
sf describe "$first" > "$tmp/o"; rc=$?
check "describe of an execution: status, decoded input and output, ISO dates" \
  $([ $rc = 0 ] && grep -q '"status": "SUCCEEDED"' "$tmp/o" && grep -q '"input": {' "$tmp/o" &&
    grep -q '"output": {' "$tmp/o" && grep -Eq "\"startDate\": \"$iso\"" "$tmp/o" &&
    grep -Eq "\"stopDate\": \"$iso\"" "$tmp/o"; echo $?)
sf describe "$failed" > "$tmp/o"; rc=$?
check "describe of a failed execution shows error and cause" \
  $([ $rc = 0 ] && grep -q '"error": "Custom"' "$tmp/o" && grep -q '"cause": "because"' "$tmp/o"; echo $?)
sf describe "arn:aws:states:us-east-1:$acct:execution:hello:nope" >/dev/null 2>"$tmp/e"; rc=$?
check "describe of an unknown execution: exit 1, ExecutionDoesNotExist" \
  $([ $rc = 1 ] && grep -q '^statefleet: DescribeExecution: ExecutionDoesNotExist: ' "$tmp/e"; echo $?)
sf describe "arn:aws:states:us-east-1:$acct:stateMachine:nope" >/dev/null 2>"$tmp/e"; rc=$?
check "describe of an unknown state machine: StateMachineDoesNotExist" \
  $([ $rc = 1 ] && grep -q '^statefleet: DescribeStateMachine: StateMachineDoesNotExist: ' "$tmp/e"; echo $?)
sf describe hello >/dev/null 2>"$tmp/e"; rc=$?
check "describe of something not an ARN exits 2" $([ $rc = 2 ] && grep -q '^usage:' "$tmp/e"; echo $?)

# ---- list ----
sf list > "$tmp/o"; rc=$?
check "list: one line per state machine with name, ARN, type, ISO date" \
  $([ $rc = 0 ] && [ "$(wc -l < "$tmp/o")" = 5 ] &&
    grep -Eq "^hello +$hello +STANDARD +$iso\$" "$tmp/o"; echo $?)
sf list fail > "$tmp/o"; rc=$?
check "list STATE_MACHINE: name, status, start and stop dates" \
  $([ $rc = 0 ] && [ "$(wc -l < "$tmp/o")" = 1 ] && grep -Eq "^[^ ]+ +FAILED +$iso +$iso\$" "$tmp/o"; echo $?)
wait_status "$second" SUCCEEDED
check "list --status filters" \
  $([ "$(sf list hello --status SUCCEEDED | wc -l)" = 2 ] && [ "$(sf list hello --status FAILED | wc -l)" = 0 ]; echo $?)
sf list --status FAILED >/dev/null 2>&1; rc=$?
check "list --status without a state machine exits 2" $([ $rc = 2 ]; echo $?)
sf list hello --status DONE >/dev/null 2>&1; rc=$?
check "list --status with an unknown status exits 2" $([ $rc = 2 ]; echo $?)
sf list nosuch >/dev/null 2>"$tmp/e"; rc=$?
check "list of an unknown state machine exits 1" $([ $rc = 1 ] && grep -q StateMachineDoesNotExist "$tmp/e"; echo $?)
# Past one page (AWS's default is 100): 110 more executions.
for i in $(seq 1 110); do sf start hello --name "many-$i" --input "{\"n\":$i}" >/dev/null || break; done
check "list follows nextToken through every page" $([ "$(sf list hello | wc -l)" = 112 ]; echo $?)
sf list hello --json > "$tmp/o"; rc=$?
check "list --json is one array of every item, each named once" \
  $([ $rc = 0 ] && python3 -c '
import json, sys
items = json.load(open(sys.argv[1]))
names = {i["name"] for i in items}
sys.exit(not (len(items) == 112 and len(names) == 112 and "many-110" in names))' "$tmp/o"; echo $?)

# ---- history ----
sf history "$first" > "$tmp/o"; rc=$?
check "history: one line per event with id, ISO time, type and state" \
  $([ $rc = 0 ] && grep -Eq "^1 +$iso +ExecutionStarted\$" "$tmp/o" &&
    grep -Eq "^ *[0-9]+ +$iso +PassStateEntered +P\$" "$tmp/o" &&
    tail -1 "$tmp/o" | grep -q ExecutionSucceeded; echo $?)
sf history "$first" --reverse > "$tmp/r"
check "history --reverse starts from the end" \
  $(head -1 "$tmp/r" | grep -q ExecutionSucceeded && [ "$(wc -l < "$tmp/r")" = "$(wc -l < "$tmp/o")" ]; echo $?)
sf history "$first" --json > "$tmp/j"; rc=$?
check "history --json is the events array" \
  $([ $rc = 0 ] && [ "$(field 0 type < "$tmp/j")" = ExecutionStarted ] &&
    [ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$tmp/j")" = "$(wc -l < "$tmp/o")" ]; echo $?)
sf history "$failed" > "$tmp/o"
check "history shows an error with its cause" $(grep -Eq 'ExecutionFailed +Custom: because$' "$tmp/o"; echo $?)
items=$(python3 -c 'import json; print(json.dumps({"items": list(range(300))}))')
big=$(sf start map --input "$items" --wait | sed -n 1p)
sf history "$big" --json > "$tmp/j"; rc=$?
check "history follows nextToken past 1000 events" \
  $([ $rc = 0 ] && python3 -c '
import json, sys
ids = [e["id"] for e in json.load(open(sys.argv[1]))]
sys.exit(not (len(ids) > 1000 and ids == list(range(1, len(ids) + 1))))' "$tmp/j"; echo $?)
sf history "$big" --reverse --json > "$tmp/r"
check "history --reverse --json pages backwards" \
  $(python3 -c '
import json, sys
f, r = (json.load(open(p)) for p in sys.argv[1:])
sys.exit(not ([e["id"] for e in r] == [e["id"] for e in reversed(f)]))' "$tmp/j" "$tmp/r"; echo $?)
sf history "arn:aws:states:us-east-1:$acct:execution:hello:nope" >/dev/null 2>"$tmp/e"; rc=$?
check "history of an unknown execution: exit 1, ExecutionDoesNotExist" \
  $([ $rc = 1 ] && grep -q '^statefleet: GetExecutionHistory: ExecutionDoesNotExist: ' "$tmp/e"; echo $?)
sf history >/dev/null 2>"$tmp/e"; rc=$?
check "history without an ARN exits 2 with usage" $([ $rc = 2 ] && grep -q '^usage: statefleet history' "$tmp/e"; echo $?)

# ---- stop ----
running=$(sf start long)
sf stop "$running" --error Halted --cause "by the test"; rc=$?
check "stop aborts a running execution with error and cause" \
  $([ $rc = 0 ] && wait_status "$running" ABORTED && sf describe "$running" | grep -q '"error": "Halted"' &&
    sf history "$running" | grep -q ExecutionAborted; echo $?)
check "list --status ABORTED finds it" $([ "$(sf list long --status ABORTED | wc -l)" = 1 ]; echo $?)
sf stop "arn:aws:states:us-east-1:$acct:execution:long:nope" 2>"$tmp/e"; rc=$?
check "stop of an unknown execution: exit 1, ExecutionDoesNotExist" \
  $([ $rc = 1 ] && grep -q '^statefleet: StopExecution: ExecutionDoesNotExist: ' "$tmp/e"; echo $?)

# ---- activities and task tokens ----
act=$(api CreateActivity '{"name":"approve"}' | field activityArn)
sf describe "$act" > "$tmp/o"; rc=$?
check "describe of an activity" \
  $([ $rc = 0 ] && grep -q '"name": "approve"' "$tmp/o" && grep -Eq "\"creationDate\": \"$iso\"" "$tmp/o"; echo $?)
printf '{"StartAt":"A","States":{"A":{"Type":"Task","Resource":"%s","HeartbeatSeconds":60,"End":true}}}\n' \
  "$act" > "$tmp/worker.json"
sf create worker "$tmp/worker.json" >/dev/null
poll() { api GetActivityTask "{\"activityArn\":\"$act\",\"workerName\":\"test\"}" | field taskToken; }

exec1=$(sf start worker --input '{"x":1}')
token=$(poll)
sf send-task-heartbeat "$token"; rc=$?
check "send-task-heartbeat exits 0" $([ $rc = 0 ]; echo $?)
sf send-task-success "$token" --output '{"ok":true}'; rc=$?
check "send-task-success completes the task" \
  $([ $rc = 0 ] && wait_status "$exec1" SUCCEEDED && sf describe "$exec1" | grep -q '"ok": true'; echo $?)
sf send-task-success "$token" --output '{}' 2>"$tmp/e"; rc=$?
check "a closed task's token is refused, exit 1" $([ $rc = 1 ] && grep -q '^statefleet: SendTaskSuccess: [A-Za-z]' "$tmp/e"; echo $?)

exec2=$(sf start worker)
token=$(poll)
echo '{"from":"file"}' > "$tmp/out.json"
sf send-task-success "$token" >/dev/null 2>&1; rc=$?
check "send-task-success without --output exits 2" $([ $rc = 2 ]; echo $?)
sf send-task-success "$token" --output '{nope' >/dev/null 2>&1; rc=$?
check "send-task-success with bad --output JSON exits 2" $([ $rc = 2 ]; echo $?)
sf send-task-failure --error Rejected --cause "not today" -- "$token"; rc=$?
check "send-task-failure fails the task with error and cause" \
  $([ $rc = 0 ] && wait_status "$exec2" FAILED && sf describe "$exec2" | grep -q '"error": "Rejected"' &&
    sf history "$exec2" | grep -Eq 'ActivityFailed +A +Rejected: not today$'; echo $?)

exec3=$(sf start worker)
token=$(poll)
sf send-task-success "$token" --output @"$tmp/out.json"; rc=$?
check "send-task-success --output @FILE" $([ $rc = 0 ] && wait_status "$exec3" SUCCEEDED &&
  sf describe "$exec3" | grep -q '"from": "file"'; echo $?)
sf send-task-heartbeat forged-token 2>"$tmp/e"; rc=$?
check "a forged token is refused, exit 1" $([ $rc = 1 ] && grep -q '^statefleet: SendTaskHeartbeat: [A-Za-z]' "$tmp/e"; echo $?)
sf send-task-heartbeat >/dev/null 2>&1; rc=$?
check "send-task-heartbeat without a token exits 2" $([ $rc = 2 ]; echo $?)

# ---- the endpoint ----
sf --endpoint http://127.0.0.1:1 list >/dev/null 2>"$tmp/e"; rc=$?
check "--endpoint before the command; no coordinator there: exit 1 naming it" \
  $([ $rc = 1 ] && grep -q '^statefleet: ListStateMachines: cannot reach the coordinator at http://127.0.0.1:1' "$tmp/e"; echo $?)
sf describe "$first" --endpoint=http://127.0.0.1:1 >/dev/null 2>"$tmp/e"; rc=$?
check "--endpoint=URL after the command" $([ $rc = 1 ] && grep -q '127.0.0.1:1' "$tmp/e"; echo $?)
STATEFLEET_ENDPOINT=http://127.0.0.1:1 "$bin" list --endpoint "$endpoint" >/dev/null; rc=$?
check "--endpoint wins over STATEFLEET_ENDPOINT" $([ $rc = 0 ]; echo $?)
STATEFLEET_ENDPOINT=http://127.0.0.1:1 "$bin" list >/dev/null 2>&1; rc=$?
check "STATEFLEET_ENDPOINT is used" $([ $rc = 1 ]; echo $?)
sf --endpoint "$endpoint" validate "$tmp/pass.json" >/dev/null 2>&1; rc=$?
check "--endpoint before a local command exits 2" $([ $rc = 2 ]; echo $?)
sf list --bogus >/dev/null 2>"$tmp/e"; rc=$?
check "an unknown option exits 2 with usage" $([ $rc = 2 ] && grep -q '^usage: statefleet list' "$tmp/e"; echo $?)
check "--help lists the coordinator commands" \
  $(sf --help | grep -q 'statefleet send-task-success TOKEN --output'; echo $?)

echo "$passes passed, $fails failed"
[ $fails = 0 ]
