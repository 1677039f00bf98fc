#!/usr/bin/env bash
# tests/cli/test_distributed_map.sh BIN SRC - a distributed Map end to end
# through `statefleet run`: items read from s3:// CSV in the local object
# store, each row through a function, results written back by ResultWriter.
set -u
bin=$1
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fails=0; passes=0
check() { if [ "$2" = 0 ]; then passes=$((passes+1)); else echo "FAIL: $1" >&2; fails=$((fails+1)); fi; }

mkdir -p "$tmp/data/datasets" "$tmp/fn"
printf 'id,text\n1,"hello, world"\n2,plain\n3,"with ""quotes"""\n' > "$tmp/data/datasets/rows.csv"
cat > "$tmp/fn/measure" <<'F'
#!/usr/bin/env python3
import json, sys
row = json.load(sys.stdin)
if row["id"] == "2" and row.get("fail"):
    json.dump({"errorType": "BadRow", "errorMessage": "row 2"}, sys.stdout)
else:
    json.dump({"id": row["id"], "length": len(row["text"])}, sys.stdout)
F
chmod +x "$tmp/fn/measure"
cat > "$tmp/map.json" <<'F'
{"StartAt":"Each","States":{"Each":{"Type":"Map",
  "ItemReader":{"Resource":"arn:aws:states:::s3:getObject",
                "ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"FIRST_ROW"},
                "Parameters":{"Bucket":"datasets","Key.$":"$.key"}},
  "ItemSelector":{"id.$":"$$.Map.Item.Value.id","text.$":"$$.Map.Item.Value.text","fail.$":"$.fail"},
  "ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},
    "StartAt":"Measure","States":{"Measure":{"Type":"Task",
      "Resource":"arn:aws:lambda:us-east-1:000000000000:function:measure","End":true}}},
  "ToleratedFailureCount":1,
  "ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"results","Prefix":"run"}},
  "End":true}}}
F
out=$("$bin" run "$tmp/map.json" --input '{"key":"rows.csv","fail":false}' --functions "$tmp/fn" --data-root "$tmp/data" --json)
check "the Map succeeds with a ResultWriter manifest" $(echo "$out" | grep -q '"status":"SUCCEEDED"' && echo "$out" | grep -q '"ResultWriterDetails"'; echo $?)
manifest=$(find "$tmp/data/results/run" -name manifest.json | head -1)
check "a manifest lands in the object store" $([ -n "$manifest" ]; echo $?)
succeeded=$(find "$tmp/data/results/run" -name 'SUCCEEDED_0.json' | head -1)
check "every row's result is written" $([ -n "$succeeded" ] && [ "$(grep -o '\\"length\\":' "$succeeded" | wc -l)" = 3 ]; echo $?)
check "quoted CSV fields arrive whole" $(grep -q '\\"length\\":12' "$succeeded" && grep -q '\\"length\\":13' "$succeeded"; echo $?)

out=$("$bin" run "$tmp/map.json" --input '{"key":"rows.csv","fail":true}' --functions "$tmp/fn" --data-root "$tmp/data" --json)
check "one failure within ToleratedFailureCount still succeeds" $(echo "$out" | grep -q '"status":"SUCCEEDED"'; echo $?)

sed 's/"ToleratedFailureCount":1/"ToleratedFailureCount":0/' "$tmp/map.json" > "$tmp/strict.json"
out=$("$bin" run "$tmp/strict.json" --input '{"key":"rows.csv","fail":true}' --functions "$tmp/fn" --data-root "$tmp/data" --json)
check "past the tolerance: States.ExceedToleratedFailureThreshold" $(echo "$out" | grep -q '"error":"States.ExceedToleratedFailureThreshold"'; echo $?)

out=$("$bin" run "$tmp/map.json" --input '{"key":"missing.csv","fail":false}' --functions "$tmp/fn" --data-root "$tmp/data" --json)
check "a missing object fails the reader, naming it" $(echo "$out" | grep -q '"status":"FAILED"' && echo "$out" | grep -q 'missing.csv'; echo $?)

echo "$passes passed, $fails failed"
[ $fails = 0 ]
