"""tests/coordinator/test_activity_flow.py - activities as the talk shows
them: a boto3 worker thread loops GetActivityTask -> work ->
SendTaskSuccess / SendTaskFailure against a real coordinator, with Retry and
Catch in the state machine; heartbeats, missed heartbeats and timeouts; and
a .waitForTaskToken task answered with SendTaskSuccess.

usage: /usr/bin/python3 test_activity_flow.py COORDINATOR STATEFLEET SRCDIR
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (ActivityWorker, Daemon, args, check, client, create_machine,  # noqa: E402
                      eq, expect_error, history, run, task_token_of, tempdir, types, wait_done,
                      wait_event)

COORD, _CLI, _SRC = args()
daemon = Daemon(COORD, tempdir("activity"), poll_seconds=1)
daemon.start()
sfn = client(daemon.url)


def url():
    return daemon.url


def test_worker_retry_catch():
    act = sfn.create_activity(name="train")["activityArn"]
    sm = create_machine(sfn, "train", {
        "StartAt": "Train",
        "States": {
            "Train": {
                "Type": "Task", "Resource": act, "ResultPath": "$.result",
                "Retry": [{"ErrorEquals": ["Worker.Flaky"], "IntervalSeconds": 1,
                           "MaxAttempts": 2, "BackoffRate": 1.0}],
                "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error",
                           "Next": "Recover"}],
                "End": True},
            "Recover": {"Type": "Pass", "Parameters": {"recovered.$": "$.error.Error",
                                                       "id.$": "$.id"}, "End": True},
        }})
    attempts = {}
    lock = threading.Lock()

    def handler(inp, token, worker):
        # {"id", "flaky": fail that many times first, "fatal": always fail}
        with lock:
            n = attempts[inp["id"]] = attempts.get(inp["id"], 0) + 1
        if inp.get("fatal"):
            return ("failure", "Worker.Fatal", "model %s diverged" % inp["id"])
        if n <= inp.get("flaky", 0):
            return ("failure", "Worker.Flaky", "GPU busy (attempt %d)" % n)
        return ("success", {"loss": inp["id"] / 10, "attempt": n})

    worker = ActivityWorker(url, act, handler, name="gpu-worker-1")
    worker.start()
    plan = {"ok": {"id": 1}, "flaky": {"id": 2, "flaky": 1}, "fatal": {"id": 3, "fatal": True},
            "exhausted": {"id": 4, "flaky": 5}}
    arns = {n: sfn.start_execution(stateMachineArn=sm, name=n, input=json.dumps(i))["executionArn"]
            for n, i in plan.items()}
    done = {n: wait_done(sfn, a, timeout=20) for n, a in arns.items()}
    worker.stop()

    eq((done["ok"]["status"], json.loads(done["ok"]["output"])),
       ("SUCCEEDED", {"id": 1, "result": {"loss": 0.1, "attempt": 1}}), "ok execution")
    eq((done["flaky"]["status"], json.loads(done["flaky"]["output"])),
       ("SUCCEEDED", {"id": 2, "flaky": 1, "result": {"loss": 0.2, "attempt": 2}}),
       "flaky execution (one retry)")
    eq((done["fatal"]["status"], json.loads(done["fatal"]["output"])),
       ("SUCCEEDED", {"recovered": "Worker.Fatal", "id": 3}), "fatal execution (caught)")
    eq((done["exhausted"]["status"], json.loads(done["exhausted"]["output"])),
       ("SUCCEEDED", {"recovered": "Worker.Flaky", "id": 4}), "retries exhausted, then caught")

    once = ["ActivityScheduled", "ActivityStarted"]
    start, end_ok = ["ExecutionStarted", "TaskStateEntered"], ["TaskStateExited",
                                                               "ExecutionSucceeded"]
    caught = ["TaskStateExited", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    h = {n: history(sfn, a) for n, a in arns.items()}
    eq(types(h["ok"]), start + once + ["ActivitySucceeded"] + end_ok, "ok history")
    eq(types(h["flaky"]), start + once + ["ActivityFailed"] + once + ["ActivitySucceeded"] +
       end_ok, "flaky history")
    eq(types(h["fatal"]), start + once + ["ActivityFailed"] + caught, "fatal history")
    eq(types(h["exhausted"]), start + (once + ["ActivityFailed"]) * 3 + caught,
       "exhausted history")

    sched = [e for e in h["flaky"] if e["type"] == "ActivityScheduled"]
    eq(sched[0]["activityScheduledEventDetails"]["resource"], act, "ActivityScheduled resource")
    eq(json.loads(sched[0]["activityScheduledEventDetails"]["input"]), plan["flaky"],
       "ActivityScheduled input")
    for e in h["flaky"]:
        if e["type"] == "ActivityStarted":
            eq(e["activityStartedEventDetails"].get("workerName"), "gpu-worker-1",
               "ActivityStarted workerName")
    failed = [e["activityFailedEventDetails"] for e in h["flaky"] if e["type"] == "ActivityFailed"]
    eq(failed, [{"error": "Worker.Flaky", "cause": "GPU busy (attempt 1)"}],
       "ActivityFailed details")
    ok = [e for e in h["ok"] if e["type"] == "ActivitySucceeded"][0]
    eq(json.loads(ok["activitySucceededEventDetails"]["output"]), {"loss": 0.1, "attempt": 1},
       "ActivitySucceeded output")
    # Retry waits IntervalSeconds between attempts.
    fl = [e for e in h["flaky"] if e["type"] in ("ActivityFailed", "ActivityScheduled")]
    gap = (fl[2]["timestamp"] - fl[1]["timestamp"]).total_seconds()
    check(0.95 <= gap < 3, "retry interval %.3fs, want about 1s" % gap)

    eq(attempts, {1: 1, 2: 2, 3: 1, 4: 3}, "attempts the worker saw")
    eq(len(worker.received), 7, "tasks handed to the worker")
    eq(len(set(worker.received)), 7, "a task token handed out twice")
    eq(len(worker.answered), 7, "answers accepted")
    eq(worker.late, [], "answers refused as late")


def test_heartbeats_keep_alive():
    act = sfn.create_activity(name="long-job")["activityArn"]
    sm = create_machine(sfn, "long-job", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "HeartbeatSeconds": 1, "TimeoutSeconds": 20,
        "End": True}}})

    def handler(inp, token, worker):
        c = worker.client()
        for _ in range(11):  # 2.75 s of work, far past HeartbeatSeconds
            time.sleep(0.25)
            c.send_task_heartbeat(taskToken=token)
        return ("success", {"epochs": inp["epochs"]})

    worker = ActivityWorker(url, act, handler, name="hb-worker")
    worker.start()
    arn = sfn.start_execution(stateMachineArn=sm, input='{"epochs": 3}')["executionArn"]
    d = wait_done(sfn, arn, timeout=15)
    worker.stop()
    eq((d["status"], json.loads(d.get("output", "null"))), ("SUCCEEDED", {"epochs": 3}),
       "execution kept alive by heartbeats")
    h = history(sfn, arn)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                  "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"],
       "history of a heartbeating task")
    sched = h[2]["activityScheduledEventDetails"]
    eq((sched.get("heartbeatInSeconds"), sched.get("timeoutInSeconds")), (1, 20),
       "ActivityScheduled heartbeat/timeout")
    ran = (h[4]["timestamp"] - h[3]["timestamp"]).total_seconds()
    check(ran >= 2.5, "the task ran %.2fs, want the full 2.75s of heartbeats" % ran)


def test_missed_heartbeat():
    act = sfn.create_activity(name="silent")["activityArn"]
    sm = create_machine(sfn, "silent", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "HeartbeatSeconds": 1, "End": True}}})
    caught = create_machine(sfn, "silent-caught", {"StartAt": "Job", "States": {
        "Job": {"Type": "Task", "Resource": act, "HeartbeatSeconds": 1,
                "Catch": [{"ErrorEquals": ["States.HeartbeatTimeout"], "Next": "Gave up"}],
                "End": True},
        "Gave up": {"Type": "Pass", "Result": "gave up", "End": True}}})
    tokens = []

    def handler(inp, token, worker):
        tokens.append(token)
        return None  # takes the task, then never heartbeats

    worker = ActivityWorker(url, act, handler, name="sleepy")
    worker.start()
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    arn2 = sfn.start_execution(stateMachineArn=caught, input="{}")["executionArn"]
    d = wait_done(sfn, arn, timeout=10)
    d2 = wait_done(sfn, arn2, timeout=10)
    worker.stop()
    eq((d["status"], d.get("error")), ("FAILED", "States.Timeout"), "missed heartbeat")
    h = history(sfn, arn)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                  "ActivityTimedOut", "ExecutionFailed"], "history of a missed heartbeat")
    eq(h[4]["activityTimedOutEventDetails"].get("error"), "States.Timeout",
       "ActivityTimedOut error")
    late = (h[4]["timestamp"] - h[3]["timestamp"]).total_seconds()
    check(0.95 <= late < 2.5, "timed out %.2fs after the start, want about 1s" % late)
    eq((d2["status"], json.loads(d2["output"])), ("SUCCEEDED", "gave up"),
       "Catch States.HeartbeatTimeout")
    eq(types(history(sfn, arn2))[-4:], ["TaskStateExited", "PassStateEntered", "PassStateExited",
                                        "ExecutionSucceeded"], "caught heartbeat timeout")
    eq(len(tokens), 2, "tasks the silent worker took")
    for tok in tokens:  # too late now
        expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")
        expect_error("TaskTimedOut", sfn.send_task_heartbeat, taskToken=tok)


def test_timeout_seconds():
    act = sfn.create_activity(name="slow")["activityArn"]
    sm = create_machine(sfn, "slow", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "TimeoutSeconds": 1,
        "End": True}}})
    sm_retry = create_machine(sfn, "slow-retry", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "TimeoutSeconds": 1,
        "Retry": [{"ErrorEquals": ["States.Timeout"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "End": True}}})
    stop = threading.Event()

    def handler(inp, token, worker):
        # Heartbeats do not extend TimeoutSeconds.
        c = worker.client()
        while not stop.is_set():
            try:
                c.send_task_heartbeat(taskToken=token)
            except Exception:  # noqa: BLE001 - TaskTimedOut once it is over
                return None
            time.sleep(0.2)
        return None

    # Two workers: each holds its task until it times out.
    workers = [ActivityWorker(url, act, handler, name="slowpoke-%d" % i) for i in (1, 2)]
    for w in workers:
        w.start()
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    arn2 = sfn.start_execution(stateMachineArn=sm_retry, input="{}")["executionArn"]
    d = wait_done(sfn, arn, timeout=10)
    d2 = wait_done(sfn, arn2, timeout=10)
    stop.set()
    for w in workers:
        w.stop()
    eq(sum(len(w.received) for w in workers), 3, "tasks taken by the workers")
    eq((d["status"], d.get("error")), ("FAILED", "States.Timeout"), "TimeoutSeconds")
    h = history(sfn, arn)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
                  "ActivityTimedOut", "ExecutionFailed"], "history of a timed out task")
    eq(h[-1]["executionFailedEventDetails"].get("error"), "States.Timeout", "ExecutionFailed error")
    took = (h[4]["timestamp"] - h[2]["timestamp"]).total_seconds()
    check(0.95 <= took < 2.5, "timed out after %.2fs, want about 1s" % took)
    eq((d2["status"], d2.get("error")), ("FAILED", "States.Timeout"), "retried timeout")
    once = ["ActivityScheduled", "ActivityStarted", "ActivityTimedOut"]
    eq(types(history(sfn, arn2)), ["ExecutionStarted", "TaskStateEntered"] + once * 2 +
       ["ExecutionFailed"], "history of a retried timeout")


def test_timeout_while_queued():
    """A task that times out before any worker asks for it is never handed
    out afterwards."""
    act = sfn.create_activity(name="unwatched")["activityArn"]
    sm = create_machine(sfn, "unwatched", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "TimeoutSeconds": 1, "End": True}}})
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    d = wait_done(sfn, arn, timeout=10)
    eq((d["status"], d.get("error")), ("FAILED", "States.Timeout"), "queued task timeout")
    eq(types(history(sfn, arn)), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                  "ActivityTimedOut", "ExecutionFailed"], "history")
    t = sfn.get_activity_task(activityArn=act, workerName="late")
    check("taskToken" not in t, "a timed out task was handed out: %r" % t)


def test_idle_poll():
    act = sfn.create_activity(name="idle")["activityArn"]
    t0 = time.monotonic()
    t = sfn.get_activity_task(activityArn=act, workerName="idle-worker")
    took = time.monotonic() - t0
    check("taskToken" not in t and "input" not in t, "idle poll gave a task: %r" % t)
    check(0.9 <= took < 3.0, "idle poll answered after %.2fs, want about 1s (--poll-seconds 1)"
          % took)
    # A task scheduled while a poll waits is handed to that poll.
    sm = create_machine(sfn, "idle", {"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": act, "End": True}}})
    got = {}

    def poll():
        got["t"] = client(daemon.url).get_activity_task(activityArn=act, workerName="waiting")
        got["at"] = time.monotonic()

    th = threading.Thread(target=poll)
    th.start()
    time.sleep(0.15)  # the poll waits (it would give up after --poll-seconds 1)
    started = time.monotonic()
    arn = sfn.start_execution(stateMachineArn=sm, input='{"wake": true}')["executionArn"]
    th.join(5)
    check("t" in got and got["t"].get("taskToken"), "the waiting poll got no task: %r" % got)
    eq(json.loads(got["t"]["input"]), {"wake": True}, "task input")
    check(got["at"] - started < 0.8, "the waiting poll answered %.2fs after the start"
          % (got["at"] - started))
    sfn.send_task_failure(taskToken=got["t"]["taskToken"], error="Nope", cause="declined")
    d = wait_done(sfn, arn)
    eq((d["status"], d.get("error"), d.get("cause")), ("FAILED", "Nope", "declined"),
       "SendTaskFailure without Catch")


def test_wait_for_task_token():
    sm = create_machine(sfn, "callback", {"StartAt": "Ask", "States": {
        "Ask": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/q",
                               "MessageBody": {"job.$": "$.job", "TaskToken.$": "$$.Task.Token"}},
                "ResultPath": "$.reply", "HeartbeatSeconds": 30, "End": True}}})
    ok = sfn.start_execution(stateMachineArn=sm, name="ok", input='{"job": "j1"}')["executionArn"]
    bad = sfn.start_execution(stateMachineArn=sm, name="bad",
                              input='{"job": "j2"}')["executionArn"]
    ev = wait_event(sfn, ok, "TaskStarted")
    sched = [e for e in history(sfn, ok) if e["type"] == "TaskScheduled"][0]
    det = sched["taskScheduledEventDetails"]
    eq((det["resourceType"], det["resource"], det["region"]),
       ("sqs", "sendMessage.waitForTaskToken", "us-east-1"), "TaskScheduled details")
    eq(det.get("heartbeatInSeconds"), 30, "TaskScheduled heartbeatInSeconds")
    params = json.loads(det["parameters"])
    eq(params["MessageBody"]["job"], "j1", "parameters carry the input")
    tok = task_token_of(sched)
    check(ev["taskStartedEventDetails"]["resource"] == "sendMessage.waitForTaskToken",
          "TaskStarted resource")
    time.sleep(0.3)
    eq(sfn.describe_execution(executionArn=ok)["status"], "RUNNING", "waits for its token")
    sfn.send_task_heartbeat(taskToken=tok)
    sfn.send_task_success(taskToken=tok, output='{"approved_by": "ops"}')
    d = wait_done(sfn, ok)
    eq((d["status"], json.loads(d["output"])),
       ("SUCCEEDED", {"job": "j1", "reply": {"approved_by": "ops"}}), "callback resumed")
    h = history(sfn, ok)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                  "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"], "callback history")
    eq(json.loads(h[4]["taskSucceededEventDetails"]["output"]), {"approved_by": "ops"},
       "TaskSucceeded output")
    expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")

    tok2 = task_token_of(wait_event(sfn, bad, "TaskScheduled"))
    check(tok2 != tok, "two executions share a task token")
    sfn.send_task_failure(taskToken=tok2, error="Review.Denied", cause="not this one")
    d = wait_done(sfn, bad)
    eq((d["status"], d.get("error"), d.get("cause")), ("FAILED", "Review.Denied", "not this one"),
       "callback failed")
    h = history(sfn, bad)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                  "TaskFailed", "ExecutionFailed"], "failed callback history")
    eq((h[4]["taskFailedEventDetails"].get("error"), h[4]["taskFailedEventDetails"].get("cause")),
       ("Review.Denied", "not this one"), "TaskFailed details")


try:
    run([
        ("worker with Retry and Catch", test_worker_retry_catch),
        ("heartbeats keep a task alive", test_heartbeats_keep_alive),
        ("missed heartbeat", test_missed_heartbeat),
        ("TimeoutSeconds", test_timeout_seconds),
        ("timeout while queued", test_timeout_while_queued),
        ("idle GetActivityTask", test_idle_poll),
        (".waitForTaskToken with SendTaskSuccess", test_wait_for_task_token),
    ])
finally:
    if daemon.running():
        daemon.stop()
