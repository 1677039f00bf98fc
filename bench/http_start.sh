#!/usr/bin/env bash
# bench/http_start.sh - StartExecution per second over HTTP with keep-alive,
# against a real statefleet-coordinator (synchronous=FULL) started here on a
# fresh database, next to DescribeStateMachine (a read that writes nothing)
# and the raw SQLite commit rate measured in the same run.
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
arn=$(curl -sf "$url/" -H 'Content-Type: application/x-amz-json-1.0' \
  -H 'X-Amz-Target: AWSStepFunctions.CreateStateMachine' \
  -d '{"name":"bench","roleArn":"arn:aws:iam::123456789012:role/bench","definition":"{\"StartAt\":\"W\",\"States\":{\"W\":{\"Type\":\"Wait\",\"Seconds\":3600,\"End\":true}}}"}' |
  sed 's/.*"stateMachineArn": *"\([^"]*\)".*/\1/')
echo "coordinator at $url, $conns keep-alive connections, ${secs}s per phase"
"$build/bench/bench_http_start" --endpoint "$url" --state-machine-arn "$arn" \
  --connections "$conns" --seconds "$secs" --target-op DescribeStateMachine
"$build/bench/bench_durable" --executions 1 --iterations 1 --dir "$work" | head -1
