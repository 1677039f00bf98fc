"""tests/coordinator/test_api_boto3.py - every Step Functions operation the
coordinator serves, called through boto3 against a real daemon, with the
answers and the AWS error names a boto3 user relies on.

usage: /usr/bin/python3 test_api_boto3.py COORDINATOR STATEFLEET SRCDIR
"""
import datetime
import json
import os
import sys

from botocore.exceptions import ReadTimeoutError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (ACT_PREFIX, EX_PREFIX, ROLE, SM_PREFIX, Daemon, TestFailure,  # noqa: E402
                      args, check, client, create_machine, eq, expect_error, history, run,
                      tempdir, types, wait_done)

COORD, _CLI, _SRC = args()
daemon = Daemon(COORD, tempdir("api"), poll_seconds=1)
daemon.start()
sfn = client(daemon.url)

PASS_DEF = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
# An activity nobody polls: the execution stays RUNNING until stopped.
PARK_ACT = sfn.create_activity(name="parking")["activityArn"]
PARK_DEF = {"StartAt": "Park", "States": {"Park": {"Type": "Task", "Resource": PARK_ACT,
                                                  "End": True}}}
# A small flow with a known history: Pass, Choice, Wait 0, Succeed.
FLOW_DEF = {
    "StartAt": "Shape",
    "States": {
        "Shape": {"Type": "Pass", "Parameters": {"n.$": "$.n", "tag": "shaped"}, "Next": "Route"},
        "Route": {"Type": "Choice",
                  "Choices": [{"Variable": "$.n", "NumericGreaterThan": 10, "Next": "Big"}],
                  "Default": "Small"},
        "Big": {"Type": "Pass", "Result": "big", "ResultPath": "$.size", "Next": "Pause"},
        "Small": {"Type": "Fail", "Error": "TooSmall", "Cause": "n must exceed 10"},
        "Pause": {"Type": "Wait", "Seconds": 0, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}
FLOW_BIG_TYPES = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ChoiceStateEntered",
                  "ChoiceStateExited", "PassStateEntered", "PassStateExited", "WaitStateEntered",
                  "WaitStateExited", "SucceedStateEntered", "SucceedStateExited",
                  "ExecutionSucceeded"]
FLOW_SMALL_TYPES = ["ExecutionStarted", "PassStateEntered", "PassStateExited",
                    "ChoiceStateEntered", "ChoiceStateExited", "FailStateEntered",
                    "ExecutionFailed"]


def dj(d):
    return json.dumps(d, separators=(",", ":"))


def test_state_machine_lifecycle():
    arn = create_machine(sfn, "alpha", PASS_DEF)
    eq(arn, SM_PREFIX + "alpha", "CreateStateMachine arn")
    # The same request again is idempotent; another definition under the
    # name is a conflict.
    eq(create_machine(sfn, "alpha", PASS_DEF), arn, "CreateStateMachine again")
    expect_error("StateMachineAlreadyExists", create_machine, sfn, "alpha", FLOW_DEF)
    d = sfn.describe_state_machine(stateMachineArn=arn)
    eq((d["name"], d["status"], d["type"], d["roleArn"]), ("alpha", "ACTIVE", "STANDARD", ROLE),
       "DescribeStateMachine name/status/type/role")
    eq(json.loads(d["definition"]), PASS_DEF, "DescribeStateMachine definition")
    check(isinstance(d["creationDate"], datetime.datetime), "creationDate is a timestamp")

    r = sfn.update_state_machine(stateMachineArn=arn, definition=dj(FLOW_DEF))
    check(isinstance(r["updateDate"], datetime.datetime), "UpdateStateMachine updateDate")
    d = sfn.describe_state_machine(stateMachineArn=arn)
    eq(json.loads(d["definition"]), FLOW_DEF, "definition after UpdateStateMachine")
    eq(d["roleArn"], ROLE, "roleArn kept by a definition-only update")
    expect_error("InvalidDefinition", sfn.update_state_machine, stateMachineArn=arn,
                 definition='{"StartAt":"Nowhere","States":{"P":{"Type":"Pass","End":true}}}')
    eq(json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]), FLOW_DEF,
       "definition after a refused update")

    sfn.delete_state_machine(stateMachineArn=arn)
    expect_error("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=arn)
    expect_error("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=arn)
    expect_error("StateMachineDoesNotExist", sfn.update_state_machine, stateMachineArn=arn,
                 definition=dj(PASS_DEF))
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    check("alpha" not in names, "deleted machine still listed: %r" % names)
    sfn.delete_state_machine(stateMachineArn=arn)  # deleting again is not an error


def test_list_state_machines_pages():
    want = {"page-%d" % i for i in range(4)}
    for n in sorted(want):
        create_machine(sfn, n, PASS_DEF, "EXPRESS" if n.endswith("3") else "STANDARD")
    seen, tok, pages = [], None, 0
    while True:
        kw = {"maxResults": 1}
        if tok:
            kw["nextToken"] = tok
        r = sfn.list_state_machines(**kw)
        pages += 1
        check(len(r["stateMachines"]) <= 1, "maxResults=1 page has %d items"
              % len(r["stateMachines"]))
        for m in r["stateMachines"]:
            eq(m["stateMachineArn"], SM_PREFIX + m["name"], "listed arn")
            eq(m["type"], "EXPRESS" if m["name"] == "page-3" else "STANDARD",
               "listed type of " + m["name"])
            seen.append(m["name"])
        tok = r.get("nextToken")
        if not tok:
            break
        check(pages < 100, "pagination does not end")
    eq(len(seen), len(set(seen)), "no machine listed twice across pages")
    eq(want - set(seen), set(), "machines missing from the pages")
    full = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    eq(seen, full, "pages joined equal one unpaged listing")
    expect_error("InvalidToken", sfn.list_state_machines, nextToken="forged-token")


def test_validate_definition():
    r = sfn.validate_state_machine_definition(definition=dj(FLOW_DEF))
    eq((r["result"], r["diagnostics"]), ("OK", []), "ValidateStateMachineDefinition of a good one")
    bad = {"StartAt": "X", "States": {"X": {"Type": "Choice", "Choices": [
        {"Variable": "$.a", "NumericEquals": "seven", "Next": "X"}]}}}
    r = sfn.validate_state_machine_definition(definition=dj(bad))
    eq(r["result"], "FAIL", "ValidateStateMachineDefinition result of a bad one")
    check(len(r["diagnostics"]) >= 1, "no diagnostics for a bad definition")
    for dg in r["diagnostics"]:
        eq((dg["severity"], dg["code"]), ("ERROR", "SCHEMA_VALIDATION_FAILED"),
           "diagnostic severity/code")
        check(dg["message"], "empty diagnostic message")
    locs = [dg.get("location", "") for dg in r["diagnostics"]]
    check(any(loc.startswith("/States/X/Choices/0") for loc in locs),
          "no diagnostic located at /States/X/Choices/0: %r" % r["diagnostics"])
    eq(r["truncated"], False, "truncated")
    r = sfn.validate_state_machine_definition(definition="{not json")
    eq(r["result"], "FAIL", "ValidateStateMachineDefinition of unparsable JSON")
    check(r["diagnostics"], "no diagnostics for unparsable JSON")
    r = sfn.validate_state_machine_definition(
        definition=dj({"StartAt": "Gone", "States": {"P": {"Type": "Pass", "End": True}}}))
    eq(r["result"], "FAIL", "StartAt naming no state")


def test_machine_errors():
    expect_error("InvalidDefinition", create_machine, sfn, "bad-def", {"StartAt": "X"})
    expect_error("InvalidDefinition", create_machine, sfn, "bad-json", "{\"StartAt\":")
    expect_error("InvalidName", create_machine, sfn, "has space", PASS_DEF)
    expect_error("InvalidName", create_machine, sfn, "a:b", PASS_DEF)
    expect_error("ValidationException", create_machine, sfn, "x" * 81, PASS_DEF)
    expect_error("InvalidArn", sfn.create_state_machine, name="badrole", definition=dj(PASS_DEF),
                 roleArn="not-a-role")
    expect_error("InvalidArn", sfn.describe_state_machine, stateMachineArn="not-an-arn")
    expect_error("InvalidArn", sfn.describe_state_machine,
                 stateMachineArn=ACT_PREFIX + "kind-is-activity")
    expect_error("StateMachineDoesNotExist", sfn.describe_state_machine,
                 stateMachineArn=SM_PREFIX + "never-made")
    expect_error("ValidationException", sfn.create_state_machine, name="badtype",
                 definition=dj(PASS_DEF), roleArn=ROLE, type="BATCH")
    names = [m["name"] for m in sfn.list_state_machines()["stateMachines"]]
    for n in ("bad-def", "bad-json", "has space", "a:b", "badrole", "badtype"):
        check(n not in names, "refused machine %r was created" % n)


def test_start_describe_idempotent():
    sm = create_machine(sfn, "parked", PARK_DEF)
    r1 = sfn.start_execution(stateMachineArn=sm, name="run1", input='{"a": 1}')
    eq(r1["executionArn"], EX_PREFIX + "parked:run1", "StartExecution arn")
    r2 = sfn.start_execution(stateMachineArn=sm, name="run1", input='{"a": 1}')
    eq(r2["executionArn"], r1["executionArn"], "StartExecution again, same name and input")
    eq(r2["startDate"], r1["startDate"], "startDate of the idempotent start")
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=sm, name="run1",
                 input='{"a": 2}')
    d = sfn.describe_execution(executionArn=r1["executionArn"])
    eq((d["status"], d["name"], d["stateMachineArn"]), ("RUNNING", "run1", sm),
       "DescribeExecution of a running one")
    eq(json.loads(d["input"]), {"a": 1}, "DescribeExecution input")
    check("output" not in d and "stopDate" not in d, "a running execution has no output/stopDate")
    # Only one execution exists under that name.
    eq([e["name"] for e in sfn.list_executions(stateMachineArn=sm)["executions"]], ["run1"],
       "executions after idempotent starts")
    sfn.stop_execution(executionArn=r1["executionArn"])
    eq(wait_done(sfn, r1["executionArn"])["status"], "ABORTED", "status after StopExecution")
    # Once ended, the name stays taken, whatever the input.
    expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=sm, name="run1",
                 input='{"a": 1}')


def test_input_errors():
    sm = create_machine(sfn, "inputs", PASS_DEF)
    expect_error("InvalidExecutionInput", sfn.start_execution, stateMachineArn=sm,
                 input="{not json")
    expect_error("InvalidName", sfn.start_execution, stateMachineArn=sm, name="bad/name")
    expect_error("InvalidArn", sfn.start_execution, stateMachineArn="arn:aws:states:nope")
    # 262144 bytes of input is AWS's limit: exactly that is taken, one more is not.
    head, tail = '{"pad":"', '"}'
    fits = head + "x" * (262144 - len(head) - len(tail)) + tail
    eq(len(fits), 262144, "input size")
    arn = sfn.start_execution(stateMachineArn=sm, name="big-fits", input=fits)["executionArn"]
    d = wait_done(sfn, arn)
    eq(d["status"], "SUCCEEDED", "execution with 262144 bytes of input")
    eq(len(d["output"]), 262144, "its output size")
    expect_error("ValidationException", sfn.start_execution, stateMachineArn=sm,
                 name="big-over", input=fits[:-2] + 'x"}')
    expect_error("ExecutionDoesNotExist", sfn.describe_execution,
                 executionArn=EX_PREFIX + "inputs:big-over")
    expect_error("ExecutionDoesNotExist", sfn.describe_execution,
                 executionArn=EX_PREFIX + "inputs:never-started")
    expect_error("ExecutionDoesNotExist", sfn.get_execution_history,
                 executionArn=EX_PREFIX + "inputs:never-started")
    expect_error("ExecutionDoesNotExist", sfn.stop_execution,
                 executionArn=EX_PREFIX + "inputs:never-started")
    expect_error("InvalidArn", sfn.describe_execution, executionArn=SM_PREFIX + "inputs")
    expect_error("InvalidArn", sfn.describe_execution, executionArn="execution")


def test_sync_execution():
    sm = create_machine(sfn, "express", {
        "StartAt": "Add", "States": {"Add": {"Type": "Pass", "Parameters": {
            "sum.$": "States.MathAdd($.a, $.b)"}, "End": True}}}, "EXPRESS")
    r = sfn.start_sync_execution(stateMachineArn=sm, name="sync1", input='{"a": 2, "b": 40}')
    eq(r["status"], "SUCCEEDED", "StartSyncExecution status")
    eq(json.loads(r["output"]), {"sum": 42}, "StartSyncExecution output")
    eq(r["executionArn"], EX_PREFIX + "express:sync1", "StartSyncExecution arn")
    check(r["stopDate"] >= r["startDate"], "stopDate before startDate")
    fail = create_machine(sfn, "express-fail", {"StartAt": "F", "States": {
        "F": {"Type": "Fail", "Error": "Boom", "Cause": "on purpose"}}}, "EXPRESS")
    r = sfn.start_sync_execution(stateMachineArn=fail, input="{}")
    eq((r["status"], r.get("error"), r.get("cause")), ("FAILED", "Boom", "on purpose"),
       "StartSyncExecution of a failing machine")
    std = create_machine(sfn, "standard-for-sync", PASS_DEF)
    expect_error("StateMachineTypeNotSupported", sfn.start_sync_execution, stateMachineArn=std,
                 input="{}")
    eq(sfn.list_executions(stateMachineArn=std)["executions"], [],
       "a refused sync start left an execution")


def test_history():
    sm = create_machine(sfn, "flow", FLOW_DEF)
    arn = sfn.start_execution(stateMachineArn=sm, name="big", input='{"n": 11}')["executionArn"]
    small = sfn.start_execution(stateMachineArn=sm, name="small",
                                input='{"n": 3}')["executionArn"]
    d = wait_done(sfn, arn)
    eq(d["status"], "SUCCEEDED", "flow status")
    eq(json.loads(d["output"]), {"n": 11, "tag": "shaped", "size": "big"}, "flow output")
    ds = wait_done(sfn, small)
    eq((ds["status"], ds.get("error"), ds.get("cause")), ("FAILED", "TooSmall",
                                                         "n must exceed 10"), "small flow")
    check("output" not in ds, "a failed execution has no output")

    full = history(sfn, arn)
    eq(types(full), FLOW_BIG_TYPES, "history event types")
    eq([e["id"] for e in full], list(range(1, len(full) + 1)), "event ids")
    eq(json.loads(full[0]["executionStartedEventDetails"]["input"]), {"n": 11},
       "ExecutionStarted input")
    eq(json.loads(full[-1]["executionSucceededEventDetails"]["output"]),
       {"n": 11, "tag": "shaped", "size": "big"}, "ExecutionSucceeded output")
    fs = history(sfn, small)
    eq(types(fs), FLOW_SMALL_TYPES, "failing flow's event types")
    eq((fs[-1]["executionFailedEventDetails"]["error"],
        fs[-1]["executionFailedEventDetails"]["cause"]), ("TooSmall", "n must exceed 10"),
       "ExecutionFailed details")

    # Pages of 2 joined are the whole history.
    paged, tok, pages = [], None, 0
    while True:
        kw = {"executionArn": arn, "maxResults": 2}
        if tok:
            kw["nextToken"] = tok
        r = sfn.get_execution_history(**kw)
        check(len(r["events"]) <= 2, "page of %d events with maxResults=2" % len(r["events"]))
        paged += r["events"]
        pages += 1
        tok = r.get("nextToken")
        if not tok:
            break
    eq(paged, full, "paged history")
    eq(pages, (len(full) + 1) // 2, "number of pages")

    rev = history(sfn, arn, reverseOrder=True)
    eq([e["id"] for e in rev], [e["id"] for e in reversed(full)], "reverseOrder ids")
    eq(rev, list(reversed(full)), "reverseOrder events")
    r = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3)
    eq([e["id"] for e in r["events"]], [12, 11, 10], "first reversed page")
    r = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=3,
                                  nextToken=r["nextToken"])
    eq([e["id"] for e in r["events"]], [9, 8, 7], "second reversed page")

    bare = history(sfn, arn, includeExecutionData=False)
    eq(types(bare), FLOW_BIG_TYPES, "event types without data")
    st = bare[0]["executionStartedEventDetails"]
    check("input" not in st, "includeExecutionData=False kept the input: %r" % st)
    ok = bare[-1]["executionSucceededEventDetails"]
    check("output" not in ok, "includeExecutionData=False kept the output: %r" % ok)
    for e in bare:
        blob = json.dumps(e, default=str)
        check('"shaped"' not in blob and '"big"' not in blob,
              "data left in event %d without data: %s" % (e["id"], blob))
    expect_error("InvalidToken", sfn.get_execution_history, executionArn=arn,
                 nextToken="ev:not-a-number")


def test_history_details():
    """The details members boto3 knows: a member under another name is
    dropped by its parser, and the user never sees it."""
    full = history(sfn, EX_PREFIX + "flow:big")
    entered = [(e["type"], e.get("stateEnteredEventDetails", {}).get("name"))
               for e in full if e["type"].endswith("StateEntered")]
    eq(entered, [("PassStateEntered", "Shape"), ("ChoiceStateEntered", "Route"),
                 ("PassStateEntered", "Big"), ("WaitStateEntered", "Pause"),
                 ("SucceedStateEntered", "Done")], "stateEnteredEventDetails names")
    exited = [e.get("stateExitedEventDetails", {}) for e in full
              if e["type"].endswith("StateExited")]
    eq([x.get("name") for x in exited], ["Shape", "Route", "Big", "Pause", "Done"],
       "stateExitedEventDetails names")
    eq(json.loads(exited[0]["output"]), {"n": 11, "tag": "shaped"},
       "output of the first state exited")
    eq(full[0]["executionStartedEventDetails"].get("roleArn"), ROLE,
       "ExecutionStarted roleArn (the machine's role)")


def test_list_executions():
    sm = create_machine(sfn, "listing", {"StartAt": "Go", "States": {"Go": {
        "Type": "Choice", "Choices": [
            {"Variable": "$.how", "StringEquals": "ok", "Next": "Ok"},
            {"Variable": "$.how", "StringEquals": "fail", "Next": "Bad"}],
        "Default": "Wait"},
        "Ok": {"Type": "Succeed"}, "Bad": {"Type": "Fail", "Error": "E"},
        "Wait": {"Type": "Task", "Resource": PARK_ACT, "End": True}}})
    plan = {"s1": "ok", "s2": "ok", "s3": "ok", "f1": "fail", "r1": "park", "r2": "park",
            "a1": "park"}
    for name, how in plan.items():
        sfn.start_execution(stateMachineArn=sm, name=name, input=dj({"how": how}))
    for name in ("s1", "s2", "s3", "f1"):
        wait_done(sfn, EX_PREFIX + "listing:" + name)
    sfn.stop_execution(executionArn=EX_PREFIX + "listing:a1", error="Op", cause="no longer needed")
    wait_done(sfn, EX_PREFIX + "listing:a1")

    def names(**kw):
        out, tok = [], None
        while True:
            a = dict(kw, stateMachineArn=sm)
            if tok:
                a["nextToken"] = tok
            r = sfn.list_executions(**a)
            for e in r["executions"]:
                eq(e["stateMachineArn"], sm, "listed execution's machine")
                eq(e["executionArn"], EX_PREFIX + "listing:" + e["name"], "listed arn")
            out += [(e["name"], e["status"]) for e in r["executions"]]
            tok = r.get("nextToken")
            if not tok:
                return out

    allx = names()
    eq(sorted(n for n, _ in allx), sorted(plan), "all executions listed")
    eq(dict(allx), {"s1": "SUCCEEDED", "s2": "SUCCEEDED", "s3": "SUCCEEDED", "f1": "FAILED",
                    "r1": "RUNNING", "r2": "RUNNING", "a1": "ABORTED"}, "listed statuses")
    eq([n for n, _ in allx], ["a1", "r2", "r1", "f1", "s3", "s2", "s1"],
       "newest first, as AWS lists them")
    eq(names(maxResults=1), allx, "pages of one joined")
    eq(sorted(names(statusFilter="SUCCEEDED", maxResults=2)),
       [("s1", "SUCCEEDED"), ("s2", "SUCCEEDED"), ("s3", "SUCCEEDED")], "SUCCEEDED filter")
    eq(sorted(names(statusFilter="RUNNING")), [("r1", "RUNNING"), ("r2", "RUNNING")],
       "RUNNING filter")
    eq(names(statusFilter="FAILED"), [("f1", "FAILED")], "FAILED filter")
    eq(names(statusFilter="ABORTED"), [("a1", "ABORTED")], "ABORTED filter")
    eq(names(statusFilter="TIMED_OUT"), [], "TIMED_OUT filter")
    expect_error("ValidationException", sfn.list_executions, stateMachineArn=sm,
                 statusFilter="DONE")
    expect_error("StateMachineDoesNotExist", sfn.list_executions,
                 stateMachineArn=SM_PREFIX + "never-made")
    for n in ("r1", "r2"):
        sfn.stop_execution(executionArn=EX_PREFIX + "listing:" + n)


def test_stop_execution():
    sm = create_machine(sfn, "stoppable", PARK_DEF)
    arn = sfn.start_execution(stateMachineArn=sm, name="x", input="{}")["executionArn"]
    r = sfn.stop_execution(executionArn=arn, error="Operator.Stop", cause="stopped by the test")
    check(isinstance(r["stopDate"], datetime.datetime), "StopExecution stopDate")
    d = sfn.describe_execution(executionArn=arn)
    eq((d["status"], d.get("error"), d.get("cause")),
       ("ABORTED", "Operator.Stop", "stopped by the test"), "DescribeExecution after stop")
    h = history(sfn, arn)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ExecutionAborted"],
       "history of a stopped execution")
    eq(h[-1]["executionAbortedEventDetails"], {"error": "Operator.Stop",
                                               "cause": "stopped by the test"},
       "ExecutionAborted details")
    # Stopping an ended execution changes nothing.
    r2 = sfn.stop_execution(executionArn=arn, error="Other", cause="again")
    eq(r2["stopDate"], d["stopDate"], "stopDate of a second stop")
    d2 = sfn.describe_execution(executionArn=arn)
    eq((d2["status"], d2.get("error"), d2.get("cause")),
       ("ABORTED", "Operator.Stop", "stopped by the test"), "a second stop changed the execution")
    eq(len(history(sfn, arn)), len(h), "a second stop added events")
    done = sfn.start_execution(stateMachineArn=create_machine(sfn, "quick", PASS_DEF),
                               input='{"q":1}')["executionArn"]
    wait_done(sfn, done)
    sfn.stop_execution(executionArn=done)
    eq(sfn.describe_execution(executionArn=done)["status"], "SUCCEEDED",
       "stopping a finished execution")


def test_machine_for_execution():
    v1 = {"StartAt": "Park", "Comment": "v1", "States": PARK_DEF["States"]}
    v2 = {"StartAt": "P", "Comment": "v2", "States": {"P": {"Type": "Pass", "End": True}}}
    sm = create_machine(sfn, "versioned", v1)
    old = sfn.start_execution(stateMachineArn=sm, name="old")["executionArn"]
    sfn.update_state_machine(stateMachineArn=sm, definition=dj(v2))
    new = sfn.start_execution(stateMachineArn=sm, name="new")["executionArn"]
    eq(wait_done(sfn, new)["status"], "SUCCEEDED", "execution of the new revision")
    r = sfn.describe_state_machine_for_execution(executionArn=old)
    eq((r["stateMachineArn"], r["name"], r["roleArn"]), (sm, "versioned", ROLE),
       "DescribeStateMachineForExecution of the old execution")
    eq(json.loads(r["definition"]), v1, "the old execution keeps its definition")
    r = sfn.describe_state_machine_for_execution(executionArn=new)
    eq(json.loads(r["definition"]), v2, "the new execution's definition")
    eq(sfn.describe_execution(executionArn=old)["status"], "RUNNING",
       "the old execution runs on after the update")
    types_old = types(history(sfn, old))
    eq(types_old, ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled"],
       "the old execution's history")
    sfn.stop_execution(executionArn=old)
    expect_error("ExecutionDoesNotExist", sfn.describe_state_machine_for_execution,
                 executionArn=EX_PREFIX + "versioned:none")


def test_activities():
    a = sfn.create_activity(name="resize")
    eq(a["activityArn"], ACT_PREFIX + "resize", "CreateActivity arn")
    d = sfn.describe_activity(activityArn=a["activityArn"])
    eq((d["activityArn"], d["name"], d["creationDate"]),
       (a["activityArn"], "resize", a["creationDate"]), "DescribeActivity")
    for n in ("crop", "blur"):
        sfn.create_activity(name=n)
    seen, tok = [], None
    while True:
        kw = {"maxResults": 1}
        if tok:
            kw["nextToken"] = tok
        r = sfn.list_activities(**kw)
        check(len(r["activities"]) <= 1, "maxResults=1 gave %d" % len(r["activities"]))
        seen += [x["name"] for x in r["activities"]]
        tok = r.get("nextToken")
        if not tok:
            break
    eq(len(seen), len(set(seen)), "an activity listed twice")
    eq({"parking", "resize", "crop", "blur"} - set(seen), set(), "activities missing")
    sfn.delete_activity(activityArn=ACT_PREFIX + "crop")
    expect_error("ActivityDoesNotExist", sfn.describe_activity, activityArn=ACT_PREFIX + "crop")
    expect_error("ActivityDoesNotExist", sfn.get_activity_task, activityArn=ACT_PREFIX + "crop")
    check("crop" not in [x["name"] for x in sfn.list_activities()["activities"]],
          "deleted activity listed")
    sfn.delete_activity(activityArn=ACT_PREFIX + "crop")  # deleting again is not an error
    expect_error("ActivityDoesNotExist", sfn.describe_activity,
                 activityArn=ACT_PREFIX + "never-made")
    expect_error("InvalidArn", sfn.describe_activity, activityArn=SM_PREFIX + "resize")
    expect_error("InvalidName", sfn.create_activity, name="bad name")
    # A task on an activity that does not exist fails as a task.
    sm = create_machine(sfn, "no-activity", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": ACT_PREFIX + "crop", "End": True}}})
    d = wait_done(sfn, sfn.start_execution(stateMachineArn=sm)["executionArn"])
    eq((d["status"], d.get("error")), ("FAILED", "States.TaskFailed"),
       "task on a deleted activity")


def test_create_activity_idempotent():
    a = sfn.create_activity(name="twice")
    # Nothing else happens meanwhile: the second call must answer on its own.
    quick = client(daemon.url, read_timeout=5)
    try:
        again = quick.create_activity(name="twice")
    except ReadTimeoutError:
        raise TestFailure("CreateActivity of an existing activity did not answer within 5 s")
    eq((again["activityArn"], again["creationDate"]), (a["activityArn"], a["creationDate"]),
       "CreateActivity again (idempotent)")
    eq([x["name"] for x in sfn.list_activities()["activities"]].count("twice"), 1,
       "activities named 'twice'")


def test_task_token_errors():
    act = sfn.create_activity(name="tokens")["activityArn"]
    sm = create_machine(sfn, "tokens", {"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": act, "End": True}}})
    arn = sfn.start_execution(stateMachineArn=sm, input='{"job": 7}')["executionArn"]
    t = sfn.get_activity_task(activityArn=act, workerName="api-test")
    tok = t.get("taskToken")
    check(tok, "GetActivityTask gave no task: %r" % t)
    eq(json.loads(t["input"]), {"job": 7}, "activity task input")
    expect_error("InvalidOutput", sfn.send_task_success, taskToken=tok, output="{broken")
    forged = tok[:-5] + ("A" if tok[-5] != "A" else "B") + tok[-4:]
    expect_error("InvalidToken", sfn.send_task_success, taskToken=forged, output="{}")
    expect_error("InvalidToken", sfn.send_task_heartbeat, taskToken=forged)
    expect_error("InvalidToken", sfn.send_task_failure, taskToken="not-a-token")
    sfn.send_task_heartbeat(taskToken=tok)
    eq(sfn.describe_execution(executionArn=arn)["status"], "RUNNING",
       "still running after refused answers")
    sfn.send_task_success(taskToken=tok, output='{"done": true}')
    d = wait_done(sfn, arn)
    eq((d["status"], json.loads(d["output"])), ("SUCCEEDED", {"done": True}), "after success")
    # A real token whose task has ended is TaskTimedOut, whatever is sent.
    expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")
    expect_error("TaskTimedOut", sfn.send_task_failure, taskToken=tok, error="E")
    expect_error("TaskTimedOut", sfn.send_task_heartbeat, taskToken=tok)
    eq(types(history(sfn, arn)), ["ExecutionStarted", "TaskStateEntered", "ActivityScheduled",
                                  "ActivityStarted", "ActivitySucceeded", "TaskStateExited",
                                  "ExecutionSucceeded"], "history after late answers")


def test_survives_restart():
    """What the API answers is on disk: after SIGTERM and a restart on the
    same database, machines, activities and finished executions read back
    the same."""
    before_sm = sfn.describe_state_machine(stateMachineArn=SM_PREFIX + "flow")
    before_ex = sfn.describe_execution(executionArn=EX_PREFIX + "flow:big")
    before_h = history(sfn, EX_PREFIX + "flow:big")
    before_acts = sorted(x["name"] for x in sfn.list_activities()["activities"])
    daemon.stop()
    daemon.start()
    c = client(daemon.url)
    eq(c.describe_state_machine(stateMachineArn=SM_PREFIX + "flow")["definition"],
       before_sm["definition"], "definition after restart")
    after = c.describe_execution(executionArn=EX_PREFIX + "flow:big")
    for k in ("status", "input", "output", "startDate", "stopDate"):
        eq(after.get(k), before_ex.get(k), "execution %s after restart" % k)
    eq(history(c, EX_PREFIX + "flow:big"), before_h, "history after restart")
    eq(sorted(x["name"] for x in c.list_activities()["activities"]), before_acts,
       "activities after restart")


try:
    run([
        ("state machine lifecycle", test_state_machine_lifecycle),
        ("ListStateMachines pages", test_list_state_machines_pages),
        ("ValidateStateMachineDefinition", test_validate_definition),
        ("state machine errors", test_machine_errors),
        ("StartExecution idempotence", test_start_describe_idempotent),
        ("input errors and limits", test_input_errors),
        ("StartSyncExecution", test_sync_execution),
        ("GetExecutionHistory", test_history),
        ("history details members", test_history_details),
        ("ListExecutions", test_list_executions),
        ("StopExecution", test_stop_execution),
        ("DescribeStateMachineForExecution", test_machine_for_execution),
        ("activities", test_activities),
        ("CreateActivity idempotent", test_create_activity_idempotent),
        ("task token errors", test_task_token_errors),
        ("state survives a restart", test_survives_restart),
    ])
finally:
    if daemon.running():
        daemon.stop()
