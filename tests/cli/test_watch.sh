#!/usr/bin/env bash
# tests/cli/test_watch.sh BIN SRC - `statefleet watch` against a fake
# coordinator (fake_describe.py) that plays scripted DescribeExecution
# answers: the plain lines a log gets, the rates and ETAs worked out from
# successive reports, the block redrawn on a terminal (through a pty) and
# fitted to its width, final statuses and exit codes, retries, signals.
set -u
bin=$1; src=$2
here=$src/tests/cli
tmp=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fails=0; passes=0
check() { # name, condition result
  if [ "$2" = 0 ]; then passes=$((passes+1)); else echo "FAIL: $1" >&2; fails=$((fails+1)); return 1; fi
}
show() { # FILE...: what a failed check saw
  for f in "$@"; do echo "--- $f" >&2; cat -v "$f" >&2; done
}
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY
ex=arn:aws:states:us-east-1:123456789012:execution:train

# The scripts. START is the fake's execution startDate: 2025-11-24T16:00:00Z.
/usr/bin/python3 - "$tmp/script.json" <<'PY'
import json, sys
S = 1764000000.0
ex = "arn:aws:states:us-east-1:123456789012:execution:train:"
def task(state, worker=None, progress=None, kernel="spin", start=S + 0.5):
    t = {"stateName": state, "resource": "arn:aws:states:::statefleet:runKernel",
         "kernel": kernel, "attempt": 0, "startDate": start}
    if worker:
        t["worker"] = worker
    if progress:
        t["progress"] = progress
    return t
def prog(frac, rec, epoch, loss, at):
    p = {"records": rec, "epoch": epoch, "metrics": {"train:objective_loss": loss},
         "updatedDate": S + at}
    if frac is not None:
        p["fraction"] = frac
    return p
def running(*tasks):
    return {"status": "RUNNING", "statefleetTasks": list(tasks)}
train = [
    running(task("Train")),
    running(task("Train", "host-node0")),
    running(task("Train", "host-node0", prog(0.1, 1000, 1, 0.9, 1))),
    running(task("Train", "host-node0", prog(0.2, 2000, 1, 0.7, 2))),
    running(task("Train", "host-node0", prog(0.3, 3000, 2, 0.5, 3)),
            task("Eval", "host-node1", kernel="eval", start=S + 3)),
    {"_http": 503, "_body": "busy"},
    running(task("Train", "host-node0", prog(0.3, 3000, 2, 0.5, 3)),
            task("Eval", "host-node1", prog(None, 500, 0, 0.4, 3.5), "eval", S + 3)),
    running(task("Eval", "host-node1", prog(None, 1500, 0, 0.3, 4), "eval", S + 3)),
    {"status": "SUCCEEDED", "stopDate": S + 9, "output": "{}", "statefleetTasks": []},
]
failed = [
    running(task("Train", "host-node0", prog(0.5, 10, 1, 1.0, 1))),
    {"status": "FAILED", "stopDate": S + 65, "error": "States.TaskFailed",
     "cause": "kernel spin: loss is NaN"},
]
forever = [running(task("Train", "host-node0", prog(0.1, 10, 1, 1.0, 1)))]
script = {ex + "ok": train, ex + "tty": train, ex + "narrow": train, ex + "failed": failed,
          ex + "timedout": [{"status": "TIMED_OUT", "stopDate": S + 1}],
          ex + "forever": forever, ex + "forever-int": forever}
json.dump(script, open(sys.argv[1], "w"))
PY

/usr/bin/python3 "$here/fake_describe.py" "$tmp/script.json" "$tmp/port" 2>"$tmp/fake.log" &
pid=$!
for _ in $(seq 1 100); do [ -s "$tmp/port" ] && break; sleep 0.1; done
if [ ! -s "$tmp/port" ]; then echo "FAIL: the fake coordinator did not start" >&2; show "$tmp/fake.log"; exit 1; fi
export STATEFLEET_ENDPOINT=http://127.0.0.1:$(cat "$tmp/port")
sf() { "$bin" "$@"; }

# Runs the command after -- on a pty of COLS x ROWS; with "int", types ^C
# once the first frame is out. Prints the output raw, then a last line
# "exit N" or "signal N".
pty_run() { # COLS ROWS none|int -- CMD...
  /usr/bin/python3 - "$@" <<'PY'
import fcntl, os, pty, select, signal, struct, sys, termios, time
cols, rows, action = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
cmd = sys.argv[5:]
pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    os.environ["TERM"] = "xterm"
    os.execvp(cmd[0], cmd)
out, typed, deadline = b"", False, time.time() + 20
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        out += data
    if action == "int" and not typed and b"Train" in out:
        time.sleep(0.2)
        os.write(fd, b"\x03")
        typed = True
_, status = os.waitpid(pid, 0)
sys.stdout.buffer.write(out + b"\n")
print("signal %d" % os.WTERMSIG(status) if os.WIFSIGNALED(status)
      else "exit %d" % os.WEXITSTATUS(status))
PY
}
# The widest line of the redrawn block in FILE (the lines after an erase,
# without escape sequences and the pty's carriage returns).
widest() {
  /usr/bin/python3 -c '
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
lines = [l.split("\x1b[2K", 1)[1] for l in text.split("\n") if "\x1b[2K" in l]
print(max(len(re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\r", "", l)) for l in lines))' "$1"
}

# ---- plain lines (stdout is not a terminal) ----
iso='2025-11-24T16:00:0[0-9]Z'
sf watch "$ex:ok" --interval 0.05 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "a succeeded execution exits 0" $([ $rc = 0 ]; echo $?) || show "$tmp/o" "$tmp/e"
check "a header names the execution and its status" \
  $(head -1 "$tmp/o" | grep -Eq '^[0-9T:-]+Z ok RUNNING$'; echo $?)
check "a task's start is a line, waiting for a worker" \
  $(grep -Eq "^$iso Train started kernel=spin attempt=0 waiting for a worker$" "$tmp/o"; echo $?)
check "its worker's arrival is a line" $(grep -Eq '^[0-9T:-]+Z Train assigned worker=host-node0$' "$tmp/o"; echo $?)
check "the first report: fraction, records, epoch, metrics, worker; no rate yet" \
  $(grep -Eq '^2025-11-24T16:00:01Z Train 10% records=1000 epoch=1 train:objective_loss=0.9 worker=host-node0$' "$tmp/o"; echo $?)
check "the second: a rate from the records over updatedDate, an ETA from the fraction" \
  $(grep -Eq '^2025-11-24T16:00:02Z Train 20% records=2000 rate=1000/s epoch=1 train:objective_loss=0.7 eta=8s worker=host-node0$' "$tmp/o"; echo $?)
check "the third, with the moving average steady at a steady rate" \
  $(grep -Eq '^2025-11-24T16:00:03Z Train 30% records=3000 rate=1000/s epoch=2 train:objective_loss=0.5 eta=7s worker=host-node0$' "$tmp/o"; echo $?)
check "a report seen again is not a new line" $([ "$(grep -c 'Train 30%' "$tmp/o")" = 1 ]; echo $?)
check "a second task's start" \
  $(grep -Eq "^2025-11-24T16:00:03Z Eval started kernel=eval attempt=0 worker=host-node1$" "$tmp/o"; echo $?)
check "a task without a fraction: records and rate, no percent, no ETA" \
  $(grep -Eq '^2025-11-24T16:00:04Z Eval records=1500 rate=2000/s epoch=0 train:objective_loss=0.3 worker=host-node1$' "$tmp/o"; echo $?)
check "a task that disappears has ended" $(grep -Eq '^[0-9T:-]+Z Train ended$' "$tmp/o"; echo $?)
check "the last line is the final status with the run's length" \
  $([ "$(tail -1 "$tmp/o")" = "2025-11-24T16:00:09Z train:ok SUCCEEDED after 0:09" ] ||
    [ "$(tail -1 "$tmp/o")" = "2025-11-24T16:00:09Z ok SUCCEEDED after 0:09" ]; echo $?)
check "a coordinator error in passing is retried, with a message" \
  $(grep -q '^statefleet: DescribeExecution: HTTP 503 .*(retrying, 1 of 4)$' "$tmp/e"; echo $?)
check "no escape sequences when not on a terminal" $(! grep -q $'\x1b' "$tmp/o"; echo $?)

sf watch "$ex:failed" --interval 0.05 --endpoint "$STATEFLEET_ENDPOINT" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "a failed execution exits 1 and shows its error and cause" \
  $([ $rc = 1 ] && grep -Eq '^2025-11-24T16:01:05Z failed FAILED after 1:05$' "$tmp/o" &&
    grep -q '^  error: States.TaskFailed$' "$tmp/o" && grep -q '^  cause: kernel spin: loss is NaN$' "$tmp/o"
    echo $?) || show "$tmp/o" "$tmp/e"
sf watch "$ex:timedout" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "an execution already over: just its final line; TIMED_OUT exits 1" \
  $([ $rc = 1 ] && [ "$(wc -l <"$tmp/o")" = 1 ] && grep -q ' timedout TIMED_OUT after 0:01$' "$tmp/o"; echo $?)

sf watch "$ex:nope" >"$tmp/o" 2>"$tmp/e"; rc=$?
check "an unknown execution exits 2 with the coordinator's message" \
  $([ $rc = 2 ] && grep -q "^statefleet: DescribeExecution: ExecutionDoesNotExist: Execution Does Not Exist: '$ex:nope'$" "$tmp/e"; echo $?)
sf watch "$ex:ok" --endpoint http://127.0.0.1:1 >"$tmp/o" 2>"$tmp/e"; rc=$?
check "an unreachable coordinator: retried, then exit 2 naming it" \
  $([ $rc = 2 ] && [ "$(grep -c 'retrying' "$tmp/e")" = 4 ] &&
    tail -1 "$tmp/e" | grep -q '^statefleet: DescribeExecution: cannot reach the coordinator at http://127.0.0.1:1'
    echo $?) || show "$tmp/e"

# ---- usage ----
sf watch >/dev/null 2>"$tmp/e"; rc=$?
check "watch without an execution exits 2 with usage" $([ $rc = 2 ] && grep -q '^usage: statefleet watch EXECUTION_ARN' "$tmp/e"; echo $?)
sf watch "$ex:ok" --interval soon >/dev/null 2>"$tmp/e"; rc=$?
check "a bad --interval exits 2" $([ $rc = 2 ] && grep -q -- '--interval is a number of seconds' "$tmp/e"; echo $?)
sf watch "$ex:ok" --interval 0 >/dev/null 2>&1; rc=$?
check "--interval 0 exits 2" $([ $rc = 2 ]; echo $?)
sf watch train-42 >/dev/null 2>"$tmp/e"; rc=$?
check "a name that is not an ARN exits 2" $([ $rc = 2 ] && grep -q 'not an execution ARN: train-42' "$tmp/e"; echo $?)
sf watch "$ex:ok" --bogus >/dev/null 2>&1; rc=$?
check "an unknown option exits 2" $([ $rc = 2 ]; echo $?)

# ---- signals ----
sf watch "$ex:forever" --interval 0.05 >"$tmp/o" 2>"$tmp/e" &
wpid=$!
for _ in $(seq 1 50); do grep -q 'Train 10%' "$tmp/o" && break; sleep 0.1; done
kill -TERM "$wpid"; wait "$wpid"; rc=$?
check "SIGTERM ends a watch, which dies of it" $([ $rc = 143 ] && grep -q 'Train 10%' "$tmp/o"; echo $?)

# ---- on a terminal ----
pty_run 100 30 none -- "$bin" watch "$ex:tty" --interval 0.05 >"$tmp/t" 2>&1
check "on a terminal: a succeeded execution exits 0" $(tail -1 "$tmp/t" | grep -q '^exit 0$'; echo $?) || show "$tmp/t"
check "on a terminal: the block is redrawn in place (cursor up, clear)" \
  $(grep -q $'\x1b\\[[0-9]*A\r\x1b\\[J' "$tmp/t"; echo $?)
check "on a terminal: a bar, percent, records, rate, epoch, loss, ETA and worker" \
  $(grep -Eq 'Train  \[#+\.+\]   30%  3,000 rec  1,000 rec/s  epoch 2  loss 0\.500  ETA 0:07  on host-node0' "$tmp/t"; echo $?) || show "$tmp/t"
check "on a terminal: the bar is full width when there is room" \
  $(grep -Eq 'Train  \[###\.{27}\]   10%  1,000 rec' "$tmp/t"; echo $?)
check "on a terminal: a task waiting for a worker says so" $(grep -q 'Train  waiting for a worker' "$tmp/t"; echo $?)
check "on a terminal: the header counts the running tasks" $(grep -Eq 'tty  RUNNING  [0-9:]+  2 tasks running' "$tmp/t"; echo $?)
check "on a terminal: the final status line stays" $(grep -q 'tty SUCCEEDED after 0:09' "$tmp/t"; echo $?)
check "on a terminal: no line reaches the last column" $([ "$(widest "$tmp/t")" -le 99 ]; echo $?)

pty_run 40 30 none -- "$bin" watch "$ex:narrow" --interval 0.05 >"$tmp/t" 2>&1
check "on a narrow terminal every line fits" \
  $(tail -1 "$tmp/t" | grep -q '^exit 0$' && [ "$(widest "$tmp/t")" -le 39 ]; echo $?) || show "$tmp/t"
check "on a narrow terminal the bar shrinks and the ETA stays" \
  $(grep -Eq 'Train  \[#+\.+\]   30%  ETA 0:07'$'\r' "$tmp/t" &&
    ! grep -Eq '\[[#.]{30}\]' "$tmp/t"; echo $?) || show "$tmp/t"

pty_run 80 24 int -- "$bin" watch "$ex:forever-int" --interval 0.05 >"$tmp/t" 2>&1
check "^C on a terminal: dies of SIGINT" $(tail -1 "$tmp/t" | grep -q '^signal 2$'; echo $?) || show "$tmp/t"
check "^C on a terminal: the block stays and the echoed ^C is wiped" \
  $(/usr/bin/python3 -c '
import sys
out = open(sys.argv[1], "rb").read().rsplit(b"\n", 2)[0]
sys.exit(not out.endswith(b"on host-node0\r\n^C\r\x1b[2K"))' "$tmp/t"; echo $?) || show "$tmp/t"

echo "$passes passed, $fails failed"
[ $fails = 0 ]
