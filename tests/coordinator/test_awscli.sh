#!/usr/bin/env bash
# tests/coordinator/test_awscli.sh - the coordinator driven by AWS CLI v2
# (Debian's, /usr/bin/aws: the aws on PATH may be a pyenv awscli v1), as a
# user would: machines, executions, history, activities, stop, errors.
#
# usage: bash test_awscli.sh COORDINATOR STATEFLEET SRCDIR
set -euo pipefail

COORD=${1:?usage: test_awscli.sh COORDINATOR STATEFLEET SRCDIR}
AWS=/usr/bin/aws
if [ ! -x "$AWS" ]; then
    echo "test_awscli: $AWS is missing (apt-get install awscli)" >&2
    exit 1
fi
case "$("$AWS" --version 2>&1)" in
aws-cli/2.*) ;;
*)
    echo "test_awscli: $AWS is not AWS CLI v2: $("$AWS" --version 2>&1)" >&2
    exit 1
    ;;
esac

tmp=$(mktemp -d "${TMPDIR:-/tmp}/sf-awscli-XXXXXX")
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

fails=0
pass() { echo "PASS $*"; }
fail() {
    echo "FAIL $*" >&2
    fails=$((fails + 1))
}
# expect WHAT GOT WANT
expect() {
    if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got '$2', want '$3'"; fi
}

# Dummy credentials, nothing read from the user's configuration, no retries.
export AWS_ACCESS_KEY_ID=AKIDSTATEFLEETTEST AWS_SECRET_ACCESS_KEY=statefleet-test-secret
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER="" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE="$tmp/none" AWS_SHARED_CREDENTIALS_FILE="$tmp/none"
export AWS_RETRY_MODE=standard AWS_MAX_ATTEMPTS=1
unset AWS_PROFILE AWS_SESSION_TOKEN

"$COORD" --db "$tmp/coord.db" --http 127.0.0.1:0 --ready-file "$tmp/ready" \
    --poll-seconds 1 2>"$tmp/coordinator.log" &
pid=$!
for _ in $(seq 200); do
    [ -s "$tmp/ready" ] && break
    kill -0 "$pid" 2>/dev/null || {
        cat "$tmp/coordinator.log" >&2
        echo "test_awscli: the coordinator exited" >&2
        exit 1
    }
    sleep 0.05
done
URL=$(cat "$tmp/ready")
[ -n "$URL" ] || { echo "test_awscli: no ready file" >&2; exit 1; }

sfn() { "$AWS" --endpoint-url "$URL" --output text stepfunctions "$@"; }
ROLE=arn:aws:iam::123456789012:role/statefleet-test
SM=arn:aws:states:us-east-1:123456789012:stateMachine
EX=arn:aws:states:us-east-1:123456789012:execution

# wait_done ARN: "STATUS OUTPUT" once the status is not RUNNING (10 s at most).
wait_done() {
    local s
    for _ in $(seq 50); do
        s=$(sfn describe-execution --execution-arn "$1" --query '[status,output]' | tr '\t' ' ')
        case "$s" in RUNNING*) sleep 0.1 ;; *) echo "$s"; return ;; esac
    done
    echo "$s"
}

cat >"$tmp/flow.json" <<'EOF'
{"StartAt": "Double",
 "States": {
   "Double": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, $.n)"}, "Next": "Big?"},
   "Big?": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericGreaterThan": 5, "Next": "Done"}],
            "Default": "Done"},
   "Done": {"Type": "Succeed"}}}
EOF

arn=$(sfn create-state-machine --name cli-flow --definition "file://$tmp/flow.json" \
    --role-arn "$ROLE" --query stateMachineArn)
expect "create-state-machine" "$arn" "$SM:cli-flow"
expect "describe-state-machine" "$(sfn describe-state-machine --state-machine-arn "$arn" \
    --query '[name,status,type]')" "cli-flow	ACTIVE	STANDARD"

ex=$(sfn start-execution --state-machine-arn "$arn" --name run-1 --input '{"n": 5}' \
    --query executionArn)
expect "start-execution" "$ex" "$EX:cli-flow:run-1"
expect "describe-execution" "$(wait_done "$ex")" 'SUCCEEDED {"n":10}'
expect "get-execution-history" "$(sfn get-execution-history --execution-arn "$ex" \
    --query 'events[].type' | tr '\t' ' ')" \
    "ExecutionStarted PassStateEntered PassStateExited ChoiceStateEntered ChoiceStateExited SucceedStateEntered SucceedStateExited ExecutionSucceeded"
expect "get-execution-history --reverse-order" "$(sfn get-execution-history \
    --execution-arn "$ex" --reverse-order --query 'events[0].[id,type]')" "8	ExecutionSucceeded"
sfn start-execution --state-machine-arn "$arn" --name run-2 --input '{"n": 1}' >/dev/null
expect "run-2" "$(wait_done "$EX:cli-flow:run-2")" 'SUCCEEDED {"n":2}'
expect "list-executions" "$(sfn list-executions --state-machine-arn "$arn" \
    --query 'executions[].[name,status]' | sort | tr '\t\n' ': ')" "run-1:SUCCEEDED run-2:SUCCEEDED "
expect "list-executions --status-filter" "$(sfn list-executions --state-machine-arn "$arn" \
    --status-filter FAILED --query 'length(executions)')" 0

# An activity worked by hand: get-activity-task, then send-task-success.
act=$(sfn create-activity --name cli-work --query activityArn)
expect "create-activity" "$act" "arn:aws:states:us-east-1:123456789012:activity:cli-work"
printf '{"StartAt":"Work","States":{"Work":{"Type":"Task","Resource":"%s","End":true}}}' \
    "$act" >"$tmp/act.json"
asm=$(sfn create-state-machine --name cli-act --definition "file://$tmp/act.json" \
    --role-arn "$ROLE" --query stateMachineArn)
aex=$(sfn start-execution --state-machine-arn "$asm" --input '{"job": 42}' --query executionArn)
"$AWS" --endpoint-url "$URL" --output json stepfunctions get-activity-task \
    --activity-arn "$act" --worker-name cli-worker >"$tmp/task.json"
token=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["taskToken"])' \
    "$tmp/task.json")
expect "get-activity-task input" "$(/usr/bin/python3 -c \
    'import json,sys; print(json.load(open(sys.argv[1]))["input"])' "$tmp/task.json")" '{"job":42}'
sfn send-task-success --task-token "$token" --task-output '{"result": "trained"}' >/dev/null
expect "activity execution" "$(wait_done "$aex")" 'SUCCEEDED {"result":"trained"}'
expect "ActivityStarted workerName" "$(sfn get-execution-history --execution-arn "$aex" \
    --query "events[?type=='ActivityStarted'].activityStartedEventDetails.workerName")" cli-worker
# shellcheck disable=SC2016 # a JMESPath literal, not a shell expansion
expect "idle get-activity-task" "$(sfn get-activity-task --activity-arn "$act" \
    --query 'taskToken || `none`')" none

# stop-execution of one that waits for a worker that never comes.
sex=$(sfn start-execution --state-machine-arn "$asm" --name to-stop --query executionArn)
sfn stop-execution --execution-arn "$sex" --error Cli.Stop --cause "stopped from the CLI" >/dev/null
expect "stop-execution" "$(sfn describe-execution --execution-arn "$sex" \
    --query '[status,error,cause]')" "ABORTED	Cli.Stop	stopped from the CLI"
expect "list-executions ABORTED" "$(sfn list-executions --state-machine-arn "$asm" \
    --status-filter ABORTED --query 'executions[].name')" to-stop

# Errors: a non-zero exit and AWS's error name on stderr.
if sfn describe-execution --execution-arn "$EX:cli-flow:missing" >"$tmp/out" 2>"$tmp/err"; then
    fail "describe-execution of a missing execution succeeded: $(cat "$tmp/out")"
elif grep -q ExecutionDoesNotExist "$tmp/err"; then
    pass "describe-execution of a missing execution: ExecutionDoesNotExist"
else
    fail "describe-execution of a missing execution: stderr $(cat "$tmp/err")"
fi
if sfn send-task-success --task-token "$token" --task-output '{}' >"$tmp/out" 2>"$tmp/err"; then
    fail "send-task-success with a used token succeeded"
elif grep -q TaskTimedOut "$tmp/err"; then
    pass "send-task-success with a used token: TaskTimedOut"
else
    fail "send-task-success with a used token: stderr $(cat "$tmp/err")"
fi
if sfn create-state-machine --name broken --definition '{"StartAt":"X"}' --role-arn "$ROLE" \
    >"$tmp/out" 2>"$tmp/err"; then
    fail "create-state-machine of a broken definition succeeded"
elif grep -q InvalidDefinition "$tmp/err"; then
    pass "create-state-machine of a broken definition: InvalidDefinition"
else
    fail "create-state-machine of a broken definition: stderr $(cat "$tmp/err")"
fi

kill -TERM "$pid"
if wait "$pid"; then pass "coordinator stops cleanly on SIGTERM"; else fail "coordinator exit $?"; fi
pid=

if [ "$fails" -ne 0 ]; then
    echo "test_awscli: $fails checks failed; coordinator log:" >&2
    cat "$tmp/coordinator.log" >&2
    exit 1
fi
echo "test_awscli: all checks passed"
