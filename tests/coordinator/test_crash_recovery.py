"""tests/coordinator/test_crash_recovery.py - the durability proof.

Forty executions of five state machines (Wait states, a local function
with Retry, activities served by a worker thread, .waitForTaskToken tasks
answered by a sender thread, and a pipeline of all of them) run while the
coordinator is killed with SIGKILL at random moments, at least three times,
and restarted on the same SQLite database (synchronous FULL) on a new port.
The worker, the sender and the starter follow it there. Then:

- every execution has ended, SUCCEEDED, with the output an uninterrupted
  run gives;
- each history's event types equal those of the same definition and input
  run uninterrupted on a fresh coordinator (started alongside), except for
  the two deviations a crash may cause by design, each of which must have
  a kill at its moment:
    * a local function that was running when the coordinator died is failed
      with States.TaskFailed "coordinator restarted" and retried;
    * an activity task whose GetActivityTask answer was lost with the
      coordinator (ActivityStarted durable, the worker never told) times out
      on its heartbeat and is retried;
- no task ran twice: ActivitySucceeded, TaskSucceeded and
  LambdaFunctionSucceeded each once per task state passed, the worker never
  received a task token twice, and each function ran exactly as many times
  as its history has LambdaFunctionStarted events;
- after one more clean restart the histories read back unchanged.

A second test kills the coordinator from inside a function, while commits
are slow, to check that a function only ever runs once its start is durable.

usage: /usr/bin/python3 test_crash_recovery.py COORDINATOR STATEFLEET SRCDIR
"""
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (FN_PREFIX, ActivityWorker, CallbackSender, Daemon,  # noqa: E402
                      TestFailure, args, check, client, create_machine, daemon_away, eq,
                      history, log, run, tempdir, types, wait_done)

COORD, _CLI, _SRC = args()
WORK = tempdir("crash")
FUNCTIONS = os.path.join(WORK, "functions")
STATE = os.path.join(WORK, "fnstate")
os.makedirs(FUNCTIONS)
os.makedirs(STATE)

# The local function: logs each run with its execution's id, fails the first run for an execution id with
# Flaky.First (a marker file remembers it), and scores the rest.
with open(os.path.join(FUNCTIONS, "score"), "w") as f:
    f.write("""#!/usr/bin/python3 -S
import json, os, sys
STATE = %r
with open(os.path.join(STATE, "calls.log"), "a") as log:
    log.write("%%s\\n" %% os.getpid())
d = json.load(sys.stdin)
with open(os.path.join(STATE, "calls.log"), "a") as log:
    log.write("%%s %%s\\n" %% (os.getpid(), d["id"]))
try:
    os.close(os.open(os.path.join(STATE, d["id"] + ".first"), os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    print(json.dumps({"errorType": "Flaky.First", "errorMessage": "first run for " + d["id"]}))
except FileExistsError:
    print(json.dumps({"score": len(d["id"]) * 10 + d["w"]}))
""" % STATE)
os.chmod(os.path.join(FUNCTIONS, "score"), 0o755)

ACT_NAME = "crunch"
CALLBACK = "arn:aws:states:::sqs:sendMessage.waitForTaskToken"
FN_RETRY = [{"ErrorEquals": ["Flaky.First"], "IntervalSeconds": 1, "MaxAttempts": 1},
            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 4}]
ACT_RETRY = [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 3}]


def fn_state(nxt):
    s = {"Type": "Task", "Resource": FN_PREFIX + "score",
         "Parameters": {"id.$": "$.id", "w.$": "$.w"}, "ResultPath": "$.fn", "Retry": FN_RETRY}
    return dict(s, Next=nxt) if nxt else dict(s, End=True)


def act_state(act, path, nxt):
    s = {"Type": "Task", "Resource": act, "HeartbeatSeconds": 3, "ResultPath": path,
         "Retry": ACT_RETRY}
    return dict(s, Next=nxt) if nxt else dict(s, End=True)


def cb_state(nxt):
    return {"Type": "Task", "Resource": CALLBACK,
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/review",
                           "MessageBody": {"id.$": "$.id", "TaskToken.$": "$$.Task.Token"}},
            "ResultPath": "$.review", "Next": nxt}


def definitions(act):
    return {
        "waits": {"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.p", "Next": "W1"},
            "W1": {"Type": "Wait", "Seconds": 1, "Next": "W2"},
            "W2": {"Type": "Wait", "SecondsPath": "$.w", "Next": "Done"},
            "Done": {"Type": "Succeed"}}},
        "function": {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "Score"},
            "Score": fn_state(None)}},
        "activity": {"StartAt": "A1", "States": {
            "A1": act_state(act, "$.a1", "W"),
            "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "A2"},
            "A2": act_state(act, "$.a2", None)}},
        "callback": {"StartAt": "Prepare", "States": {
            "Prepare": {"Type": "Pass", "Result": "prepared", "ResultPath": "$.p", "Next": "Ask"},
            "Ask": cb_state("W"),
            "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "Check"},
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.review.approved",
                                                      "BooleanEquals": True, "Next": "Done"}],
                      "Default": "Refused"},
            "Refused": {"Type": "Fail", "Error": "Refused"},
            "Done": {"Type": "Succeed"}}},
        "pipeline": {"StartAt": "W", "States": {
            "W": {"Type": "Wait", "SecondsPath": "$.w", "Next": "Train"},
            "Train": act_state(act, "$.a1", "Evaluate"),
            "Evaluate": fn_state("Review"),
            "Review": cb_state("Done"),
            "Done": {"Type": "Succeed"}}},
    }


# What an uninterrupted run gives, written down; the reference coordinator
# must agree with it, and the crashed one with both.
_ENTER = ["ExecutionStarted"]
_FN = ["TaskStateEntered"] + ["LambdaFunctionScheduled", "LambdaFunctionStarted",
                              "LambdaFunctionFailed"] + \
      ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionSucceeded",
       "TaskStateExited"]
_ACT = ["TaskStateEntered", "ActivityScheduled", "ActivityStarted", "ActivitySucceeded",
        "TaskStateExited"]
_CB = ["TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited"]
_WAIT = ["WaitStateEntered", "WaitStateExited"]
_PASS = ["PassStateEntered", "PassStateExited"]
_OK = ["SucceedStateEntered", "SucceedStateExited", "ExecutionSucceeded"]
EXPECTED_TYPES = {
    "waits": _ENTER + _PASS + _WAIT + _WAIT + _OK,
    "function": _ENTER + _WAIT + _FN + ["ExecutionSucceeded"],
    "activity": _ENTER + _ACT + _WAIT + _ACT + ["ExecutionSucceeded"],
    "callback": _ENTER + _PASS + _CB + _WAIT + ["ChoiceStateEntered", "ChoiceStateExited"] + _OK,
    "pipeline": _ENTER + _WAIT + _ACT + _FN + _CB + _OK,
}
PASSES = {  # (activity states, callback states, function states) passed
    "waits": (0, 0, 0), "function": (0, 0, 1), "activity": (2, 0, 0), "callback": (0, 1, 0),
    "pipeline": (1, 1, 1),
}


def work(inp, token, worker):
    return ("success", {"crunched": inp["id"], "w": inp["w"]})


def review(arn, token):
    return {"approved": True}


def expected_output(kind, inp):
    out = dict(inp)
    fn = {"score": len(inp["id"]) * 10 + inp["w"]}
    act = {"crunched": inp["id"], "w": inp["w"]}
    if kind in ("waits", "callback"):
        out["p"] = "prepared"
    if kind == "function":
        out["fn"] = fn
    if kind == "activity":
        out["a1"], out["a2"] = act, act
    if kind in ("callback", "pipeline"):
        out["review"] = {"approved": True}
    if kind == "pipeline":
        out["a1"], out["fn"] = act, fn
    return out


class Fleet:
    """A coordinator with its activity worker and callback sender, which
    follow it across restarts."""

    def __init__(self, tag, tolerant):
        self.tolerant = tolerant
        self.daemon = Daemon(COORD, tempdir(tag), functions=FUNCTIONS, poll_seconds=1)
        self.daemon.start()
        c = client(self.daemon.url)
        act = c.create_activity(name=ACT_NAME)["activityArn"]
        self.machines = {k: create_machine(c, k, d) for k, d in definitions(act).items()}
        url = lambda: self.daemon.url  # noqa: E731
        self.workers = [ActivityWorker(url, act, work, name="%s-worker-%d" % (tag, i),
                                       tolerant=tolerant) for i in (1, 2)]
        self.sender = CallbackSender(url, review, name=tag + "-sender")
        for w in self.workers:
            w.start()
        self.sender.start()

    def client(self):
        return client(self.daemon.url)

    def stop(self):
        for w in self.workers:
            w.stop()
        self.sender.stop()


def start_tolerant(fleet, kind, name, inp):
    """StartExecution that survives the coordinator going away: retried with
    the same name and input, it is idempotent while the execution runs, and
    ExecutionAlreadyExists once it has ended."""
    arn = None
    deadline = time.monotonic() + 20
    while arn is None:
        try:
            arn = fleet.client().start_execution(stateMachineArn=fleet.machines[kind], name=name,
                                                 input=json.dumps(inp))["executionArn"]
        except Exception as e:  # noqa: BLE001
            if (getattr(e, "response", None) or {}).get("Error", {}).get("Code") == \
                    "ExecutionAlreadyExists":
                arn = fleet.machines[kind].replace(":stateMachine:", ":execution:") + ":" + name
            elif not (fleet.tolerant and daemon_away(e)) or time.monotonic() > deadline:
                raise
            else:
                time.sleep(0.05)
    if kind in ("callback", "pipeline"):
        fleet.sender.watch(arn)
    return arn


def wait_all_tolerant(fleet, arns, timeout):
    deadline = time.monotonic() + timeout
    pending = dict(arns)
    while pending:
        check(time.monotonic() < deadline, lambda: "still running after %ss: %s"
              % (timeout, sorted(pending)))
        for name, arn in list(pending.items()):
            try:
                if fleet.client().describe_execution(executionArn=arn)["status"] != "RUNNING":
                    del pending[name]
            except Exception as e:  # noqa: BLE001
                if not (fleet.tolerant and daemon_away(e)):
                    raise
        time.sleep(0.1)


def near_kill(kills, lo, hi):
    return any(lo <= k <= hi for k in kills)


def normalize(events, kills, name):
    """The event types with the deviations a crash may cause taken out (see
    the top of the file); each must have a kill at its moment. Returns
    (types, restarted function attempts, lost activity deliveries,
    first function attempt restarted)."""
    drop, restarted, lost, first_fn_restarted = set(), 0, 0, False
    first_fn = next((i for i, e in enumerate(events) if e["type"] == "LambdaFunctionScheduled"),
                    None)
    for i, e in enumerate(events):
        if e["type"] == "LambdaFunctionFailed" and "coordinator restarted" in \
                e["lambdaFunctionFailedEventDetails"].get("cause", ""):
            eq((events[i - 2]["type"], events[i - 1]["type"]),
               ("LambdaFunctionScheduled", "LambdaFunctionStarted"),
               "%s: events before a restarted function" % name)
            eq(e["lambdaFunctionFailedEventDetails"].get("error"), "States.TaskFailed",
               "%s: error of a restarted function" % name)
            started = events[i - 1]["timestamp"].timestamp()
            check(near_kill(kills, started - 0.05, e["timestamp"].timestamp() + 0.05),
                  "%s: function failed as restarted at event %d with no kill while it ran"
                  % (name, e["id"]))
            drop |= {i - 2, i - 1, i}
            restarted += 1
            first_fn_restarted |= i - 2 == first_fn
        if e["type"] == "ActivityTimedOut":
            eq((events[i - 2]["type"], events[i - 1]["type"]),
               ("ActivityScheduled", "ActivityStarted"),
               "%s: events before an activity timeout" % name)
            started = events[i - 1]["timestamp"].timestamp()
            check(near_kill(kills, started - 0.05, started + 1.0),
                  "%s: activity timed out at event %d, but no kill came as it was handed out"
                  % (name, e["id"]))
            drop |= {i - 2, i - 1, i}
            lost += 1
    return ([e["type"] for i, e in enumerate(events) if i not in drop], restarted, lost,
            first_fn_restarted)


def without_flaky_attempt(seq):
    """seq without its first function attempt (the one that fails)."""
    i = seq.index("LambdaFunctionScheduled")
    eq(seq[i:i + 3], ["LambdaFunctionScheduled", "LambdaFunctionStarted", "LambdaFunctionFailed"],
       "first function attempt")
    return seq[:i] + seq[i + 3:]


def function_runs():
    runs = {}
    with open(os.path.join(STATE, "calls.log")) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                runs[parts[1]] = runs.get(parts[1], 0) + 1
    return runs


def test_kill9_storm():
    t0 = time.monotonic()
    seed = int(os.environ.get("SF_CRASH_SEED") or random.SystemRandom().getrandbits(32))
    rnd = random.Random(seed)
    log("SF_CRASH_SEED=%d (the test's random choices; kill timing still varies)" % seed)
    kinds = list(EXPECTED_TYPES)
    plan = {}  # name -> (kind, input)
    for i in range(40):
        kind = kinds[i % len(kinds)]
        name = "%s-%02d" % (kind, i)
        plan[name] = (kind, {"id": name, "w": 1 + i % 2})

    crash = Fleet("crash", tolerant=True)
    ref = Fleet("ref", tolerant=False)
    ref_arns = {}
    for kind in kinds:
        for w in (1, 2):
            n = "ref-%s-w%d" % (kind, w)
            ref_arns[(kind, w)] = start_tolerant(ref, kind, n, {"id": n, "w": w})

    arns = {}
    names = list(plan)
    first, second = names[:24], names[24:]
    for n in first:
        arns[n] = start_tolerant(crash, plan[n][0], n, plan[n][1])

    def starter():
        for n in second:
            time.sleep(rnd.uniform(0, 0.12))
            arns[n] = start_tolerant(crash, plan[n][0], n, plan[n][1])

    st = threading.Thread(target=starter, daemon=True)
    st.start()

    kills, downtime = [], 0.0
    while len(kills) < 5:
        time.sleep(rnd.uniform(0.2, 1.5))
        kills.append(time.time())
        crash.daemon.kill9()
        t_down = time.monotonic()
        crash.daemon.start()
        downtime += time.monotonic() - t_down
    st.join(30)
    check(not st.is_alive(), "the starter did not finish")
    eq(len(arns), 40, "executions started")
    log("kills: %d at +%s s; %.2f s down in all" % (
        len(kills), ", ".join("%.2f" % (k - kills[0]) for k in kills), downtime))

    wait_all_tolerant(crash, arns, timeout=60)
    wait_all_tolerant(ref, {str(k): v for k, v in ref_arns.items()}, timeout=30)
    crash.stop()
    ref.stop()
    kills_at = list(kills)

    rc = ref.client()
    ref_types = {}
    for (kind, w), arn in ref_arns.items():
        d = rc.describe_execution(executionArn=arn)
        eq(d["status"], "SUCCEEDED", "reference %s w=%d" % (kind, w))
        ref_types[(kind, w)] = types(history(rc, arn))
        eq(ref_types[(kind, w)], EXPECTED_TYPES[kind], "reference history of %s w=%d" % (kind, w))
        inp = json.loads(d["input"])
        eq(json.loads(d["output"]), expected_output(kind, inp), "reference output of %s" % kind)

    c = crash.client()
    runs = function_runs()
    totals = {"restarted": 0, "lost": 0}
    problems = []
    saved = {}
    for name in names:
        kind, inp = plan[name]
        arn = arns[name]
        d = c.describe_execution(executionArn=arn)
        events = history(c, arn)
        saved[name] = events
        if d["status"] != "SUCCEEDED":
            problems.append("%s: %s %s %s" % (name, d["status"], d.get("error"), d.get("cause")))
            continue
        if json.loads(d["output"]) != expected_output(kind, inp):
            problems.append("%s: output %s, want %s" % (name, d["output"],
                                                        expected_output(kind, inp)))
        eq([e["id"] for e in events], list(range(1, len(events) + 1)), name + ": event ids")
        stamps = [e["timestamp"] for e in events]
        check(stamps == sorted(stamps), name + ": timestamps go backwards")
        seq, restarted, lost, first_restarted = normalize(events, kills_at, name)
        totals["restarted"] += restarted
        totals["lost"] += lost
        want = ref_types[(kind, inp["w"])]
        if seq != want and not (first_restarted and seq == without_flaky_attempt(want)):
            problems.append("%s: history\n    %s\n  want (uninterrupted)\n    %s"
                            % (name, types(events), want))
        n_act, n_cb, n_fn = PASSES[kind]
        all_types = types(events)
        got = (all_types.count("ActivitySucceeded"), all_types.count("TaskSucceeded"),
               all_types.count("LambdaFunctionSucceeded"))
        if got != (n_act, n_cb, n_fn):
            problems.append("%s: (ActivitySucceeded, TaskSucceeded, LambdaFunctionSucceeded) = "
                            "%s, want %s" % (name, got, (n_act, n_cb, n_fn)))
        if all_types.count("ActivityStarted") != all_types.count("ActivityScheduled"):
            problems.append("%s: ActivityStarted and ActivityScheduled counts differ" % name)
        # A function runs once per LambdaFunctionStarted: never behind the
        # history's back (one started before its LambdaFunctionStarted was
        # durable shows here as "ran 2 times; ... 1 LambdaFunctionStarted").
        # A start that was durable just before the kill may never have run:
        # at most one run fewer per restarted attempt.
        fn_started = all_types.count("LambdaFunctionStarted")
        ran = runs.get(name, 0)
        if not (fn_started - restarted <= ran <= fn_started):
            problems.append("%s: the function ran %d times; its history has %d "
                            "LambdaFunctionStarted (%d restarted)" % (name, ran, fn_started,
                                                                      restarted))

    received = [t for w in crash.workers for t in w.received]
    answered = [t for w in crash.workers for t in w.answered]
    late = [t for w in crash.workers for t in w.late]
    if len(received) != len(set(received)):
        problems.append("the worker received a task token twice")
    started_total = sum(types(e).count("ActivityStarted") for e in saved.values())
    succeeded_total = sum(types(e).count("ActivitySucceeded") for e in saved.values())
    if started_total != len(received) + totals["lost"]:
        problems.append("ActivityStarted events %d != tasks received %d + lost deliveries %d"
                        % (started_total, len(received), totals["lost"]))
    if not (len(answered) <= succeeded_total <= len(answered) + len(late)):
        problems.append("ActivitySucceeded events %d, answers accepted %d (+%d late)"
                        % (succeeded_total, len(answered), len(late)))
    sent, cb_late = crash.sender.sent, crash.sender.late
    if len(sent) != len(set(sent)):
        problems.append("a callback token was accepted twice")
    cb_total = sum(types(e).count("TaskSucceeded") for e in saved.values())
    if not (len(sent) <= cb_total <= len(sent) + len(cb_late)):
        problems.append("TaskSucceeded events %d, callback answers accepted %d (+%d late)"
                        % (cb_total, len(sent), len(cb_late)))

    # Nothing read above changes across one more, clean, restart.
    crash.daemon.stop()
    crash.daemon.start()
    c = crash.client()
    for name in names:
        if history(c, arns[name]) != saved[name]:
            problems.append("%s: history changed across a clean restart" % name)
    crash.daemon.stop()  # both stop cleanly (exit 0, no sanitizer report)
    ref.daemon.stop()

    log("summary: %d executions, %d kills (SIGKILL), %.1f s; %d function runs failed as "
        "restarted; %d activity deliveries lost and retried; %d activity answers and %d callback "
        "answers accepted but unacknowledged; %d tasks to the worker, %d callback answers"
        % (len(names), len(kills), time.monotonic() - t0, totals["restarted"], totals["lost"],
           len(late), len(cb_late), len(received), len(sent)))
    check(len(kills) >= 3, "fewer than 3 kills")
    if problems:
        raise TestFailure("%d problems after the kills:\n  %s" % (len(problems),
                                                                 "\n  ".join(problems)))


def test_function_start_durable():
    """A function must not run before its LambdaFunctionStarted is durable:
    otherwise a crash in between loses the start, and the restarted
    coordinator runs the function again behind the user's back (the same
    attempt twice, where svc_recover.c promises a "coordinator restarted"
    failure). The function kills the coordinator the moment it runs, while
    other clients keep the writer busy with large commits."""
    fdir = os.path.join(WORK, "killer-fn")
    sdir = os.path.join(WORK, "killer-state")
    os.makedirs(fdir)
    os.makedirs(sdir)
    with open(os.path.join(fdir, "killer"), "w") as f:
        f.write("""#!/bin/sh
# Runs are logged; the first one kills the coordinator at once (it runs on a
# local worker, so the coordinator is not its parent: the test says who it is).
echo run >> %(s)s/runs
if [ ! -e %(s)s/killed ]; then
    : > %(s)s/killed
    kill -9 $(cat %(s)s/coordinator.pid)
fi
cat > /dev/null
echo '{"ok": true}'
""" % {"s": sdir})
    os.chmod(os.path.join(fdir, "killer"), 0o755)
    d = Daemon(COORD, tempdir("killer"), functions=fdir, poll_seconds=1, quiet=True)
    d.start()
    with open(os.path.join(sdir, "coordinator.pid"), "w") as f:
        f.write(str(d.proc.pid))
    c = client(d.url)
    sm = create_machine(c, "killer", {"StartAt": "F", "States": {"F": {
        "Type": "Task", "Resource": FN_PREFIX + "killer",
        "Retry": [{"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        "End": True}}})
    load = create_machine(c, "load", {"StartAt": "P", "States": {"P": {"Type": "Pass",
                                                                         "End": True}}})
    stop = threading.Event()

    def loader():
        lc = client(d.url)
        big = json.dumps({"pad": "x" * 250000})
        while not stop.is_set():
            try:
                lc.start_execution(stateMachineArn=load, input=big)
            except Exception:  # noqa: BLE001 - the coordinator is gone
                return

    loaders = [threading.Thread(target=loader, daemon=True) for _ in range(4)]
    for t in loaders:
        t.start()
    time.sleep(0.3)
    arn = c.start_execution(stateMachineArn=sm, name="once")["executionArn"]
    try:
        d.proc.wait(10)
    finally:
        stop.set()
    for t in loaders:
        t.join(10)
    d.start()
    c = client(d.url)
    done = wait_done(c, arn, timeout=15)
    eq(done["status"], "SUCCEEDED", "the killer execution")
    with open(os.path.join(sdir, "runs")) as f:
        runs = len(f.read().splitlines())
    events = history(c, arn)
    started = types(events).count("LambdaFunctionStarted")
    eq(runs, started, "function runs vs LambdaFunctionStarted events (history: %s)"
       % types(events))
    eq(types(events), ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                       "LambdaFunctionStarted", "LambdaFunctionFailed", "LambdaFunctionScheduled",
                       "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited",
                       "ExecutionSucceeded"], "history of the killed function")
    failed = [e for e in events if e["type"] == "LambdaFunctionFailed"][0]
    check("coordinator restarted" in failed["lambdaFunctionFailedEventDetails"].get("cause", ""),
          "cause of the first failure: %r" % failed["lambdaFunctionFailedEventDetails"])
    d.stop()


run([
    ("kill -9 storm", test_kill9_storm),
    ("a function runs only once its start is durable", test_function_start_durable),
])
