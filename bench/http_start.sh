#!/usr/bin/env bash
# bench/http_start.sh - StartExecution per second over HTTP with keep-alive,
# against a real statefleet-coordinator (synchronous=FULL) started here on a
# fresh database, with the coordinator's commits (fsyncs) per second during
# it, next to DescribeStateMachine (a read that writes nothing) and the raw
# SQLite commit rate, all measured in the same run.
#
#   bash bench/http_start.sh [BUILD_DIR] [CONNECTIONS] [SECONDS]
set -euo pipefail
build=${1:-build}
conns=${2:-32}
secs=${3:-5}
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$work"' EXIT
"$build/statefleet-coordinator" --db "$work/db" --http 127.0.0.1:0 --ready-file "$work/ready" --quiet &
pid=$!
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.05; done
url=$(cat "$work/ready")
call() { # OPERATION JSON
  curl -sf "$url/" -H 'Content-Type: application/x-amz-json-1.0' \
    -H "X-Amz-Target: AWSStepFunctions.$1" -d "$2"
}
commits() { call StatefleetGetStats '{}' | sed 's/.*"commits": *\([0-9]*\).*/\1/'; }
arn=$(call CreateStateMachine '{"name":"bench","roleArn":"arn:aws:iam::123456789012:role/bench","definition":"{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":3600,\"End\":true}}}"}' |
  sed 's/.*"stateMachineArn": *"\([^"]*\)".*/\1/')
echo "coordinator at $url, $conns keep-alive connections, ${secs}s per phase"
c0=$(commits)
"$build/bench/bench_http_start" --endpoint "$url" --state-machine-arn "$arn" \
  --connections "$conns" --seconds "$secs" --target-op DescribeStateMachine
c1=$(commits)
# Only the StartExecution phase commits anything (DescribeStateMachine writes nothing).
awk -v c="$((c1 - c0))" -v s="$secs" \
  'BEGIN { printf "coordinator commits (fsyncs) during StartExecution: %.0f/s\n", c / s }'
"$build/bench/bench_durable" --executions 1 --iterations 1 --dir "$work" | head -1
