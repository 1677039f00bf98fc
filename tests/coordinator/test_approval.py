"""tests/coordinator/test_approval.py - the model-review flow: a
.waitForTaskToken task hands its token out (here: to an SQS message that is
never sent), a person follows the approve or reject link, and a Choice on
$.decision picks the branch. Links are single-use and cannot be forged; a
callback's TimeoutSeconds holds even across a coordinator restart.

usage: /usr/bin/python3 test_approval.py COORDINATOR STATEFLEET SRCDIR
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (Daemon, args, check, client, create_machine, eq, history,  # noqa: E402
                      http_get, run, task_token_of, tempdir, types, wait_done, wait_event)

COORD, _CLI, _SRC = args()
daemon = Daemon(COORD, tempdir("approval"), poll_seconds=1)
daemon.start()
sfn = client(daemon.url)


def review_machine(name, timeout=None):
    ask = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
           "Parameters": {
               "QueueUrl": "https://sqs.us-east-1.amazonaws.com/123456789012/model-review",
               "MessageBody": {"model.$": "$.model", "accuracy.$": "$.accuracy",
                               "TaskToken.$": "$$.Task.Token"}},
           "Next": "Decide"}
    if timeout:
        ask["TimeoutSeconds"] = timeout
    return create_machine(sfn, name, {
        "Comment": "Deploy a trained model once a person approves it",
        "StartAt": "Ask for review",
        "States": {
            "Ask for review": ask,
            "Decide": {"Type": "Choice",
                       "Choices": [{"Variable": "$.decision", "StringEquals": "Approved",
                                    "Next": "Deploy"}],
                       "Default": "Discard"},
            "Deploy": {"Type": "Pass", "Parameters": {"decision.$": "$.decision",
                                                      "action": "deploy"}, "End": True},
            "Discard": {"Type": "Fail", "Error": "Model.Rejected",
                        "Cause": "the reviewer rejected the model"},
        }})


REVIEW = review_machine("model-review")
HEAD = ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSucceeded",
        "TaskStateExited", "ChoiceStateEntered", "ChoiceStateExited"]


def start_review(name, machine=REVIEW):
    arn = sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(
        {"model": "resnet-%s" % name, "accuracy": 0.93}))["executionArn"]
    wait_event(sfn, arn, "TaskStarted")
    sched = [e for e in history(sfn, arn) if e["type"] == "TaskScheduled"][0]
    body = json.loads(sched["taskScheduledEventDetails"]["parameters"])["MessageBody"]
    eq(body["model"], "resnet-%s" % name, "the message carries the input")
    return arn, task_token_of(sched)


def link(kind, token):
    return "%s/%s/%s" % (daemon.url, kind, token)


def test_approve():
    arn, tok = start_review("approve-me")
    # The coordinator logs both links for the person who decides.
    log = daemon.log_text()
    check(link("approve", tok) in log and link("reject", tok) in log,
          "approve/reject links for %s not in the log:\n%s" % (tok, daemon.log_tail()))
    time.sleep(0.2)
    eq(sfn.describe_execution(executionArn=arn)["status"], "RUNNING", "waits for the decision")
    status, page = http_get(link("approve", tok))
    eq(status, 200, "approve link status")
    check(page.lstrip().lower().startswith("<!doctype html"), "approve answer is not HTML")
    check("Approved" in page, "approve page does not say Approved:\n" + page)
    d = wait_done(sfn, arn)
    eq((d["status"], json.loads(d["output"])),
       ("SUCCEEDED", {"decision": "Approved", "action": "deploy"}), "approved execution")
    h = history(sfn, arn)
    eq(types(h), HEAD + ["PassStateEntered", "PassStateExited", "ExecutionSucceeded"],
       "approved history")
    eq(json.loads(h[4]["taskSucceededEventDetails"]["output"]), {"decision": "Approved"},
       "TaskSucceeded output")
    # The link is single-use, and the other link of the pair is dead too.
    for kind in ("approve", "reject"):
        status, page = http_get(link(kind, tok))
        check(400 <= status < 500, "%s of a used token: %d, want 4xx" % (kind, status))
        check("already used" in page, "%s of a used token: page says\n%s" % (kind, page))
    eq(len(history(sfn, arn)), len(h), "a used link changed the history")


def test_reject():
    arn, tok = start_review("reject-me")
    status, page = http_get(link("reject", tok))
    eq(status, 200, "reject link status")
    check("Rejected" in page, "reject page does not say Rejected:\n" + page)
    d = wait_done(sfn, arn)
    eq((d["status"], d.get("error"), d.get("cause")),
       ("FAILED", "Model.Rejected", "the reviewer rejected the model"), "rejected execution")
    h = history(sfn, arn)
    eq(types(h), HEAD + ["FailStateEntered", "ExecutionFailed"], "rejected history")
    eq(json.loads(h[4]["taskSucceededEventDetails"]["output"]), {"decision": "Rejected"},
       "TaskSucceeded output")
    status, _ = http_get(link("approve", tok))
    check(400 <= status < 500, "approve after reject: %d, want 4xx" % status)
    eq(sfn.describe_execution(executionArn=arn)["status"], "FAILED", "approve after reject")


def test_forged():
    arn, tok = start_review("forge-me")
    eq(len(tok), 60, "token length")
    for i in (0, 10, 30, 59):
        c = tok[i]
        forged = tok[:i] + ("B" if c == "A" else "A") + tok[i + 1:]
        for kind in ("approve", "reject"):
            status, page = http_get(link(kind, forged))
            check(400 <= status < 500, "%s with byte %d altered: %d, want 4xx" % (kind, i, status))
            check("not valid" in page, "forged %s page says:\n%s" % (kind, page))
    for bad in ("", "short", "%zz", tok + "A", "../" + tok):
        status, _ = http_get("%s/approve/%s" % (daemon.url, bad))
        check(400 <= status < 500, "approve/%r: %d, want 4xx" % (bad, status))
    # Still serving, the execution untouched, and the real link works.
    eq(sfn.describe_execution(executionArn=arn)["status"], "RUNNING", "after forged links")
    eq(types(history(sfn, arn)), HEAD[:4], "forged links changed the history")
    check(daemon.running(), "the coordinator died")
    status, page = http_get(link("approve", tok))
    eq(status, 200, "the genuine link after forged ones")
    eq(wait_done(sfn, arn)["status"], "SUCCEEDED", "approved after forgeries")


def test_timeout():
    sm = review_machine("review-1s", timeout=1)
    arn, tok = start_review("too-slow", sm)
    d = wait_done(sfn, arn, timeout=10)
    eq((d["status"], d.get("error")), ("FAILED", "States.Timeout"), "callback timeout")
    h = history(sfn, arn)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                  "TaskTimedOut", "ExecutionFailed"], "timed out history")
    eq(h[4]["taskTimedOutEventDetails"].get("error"), "States.Timeout", "TaskTimedOut error")
    took = (h[4]["timestamp"] - h[2]["timestamp"]).total_seconds()
    check(0.95 <= took < 2.5, "timed out after %.2fs, want about 1s" % took)
    status, page = http_get(link("approve", tok))
    check(400 <= status < 500, "approve after the timeout: %d, want 4xx" % status)


def test_timeout_across_restart():
    global sfn
    sm = review_machine("review-3s", timeout=3)
    late, late_tok = start_review("restart-late", sm)
    keep, keep_tok = start_review("restart-keep")
    sched = [e for e in history(sfn, late) if e["type"] == "TaskScheduled"][0]["timestamp"]
    old_url = daemon.url
    daemon.stop()  # SIGTERM, well before the 3 s deadline
    deadline = sched.timestamp() + 3
    check(time.time() < deadline, "the daemon stopped after the deadline; the test is too slow")
    time.sleep(max(0.0, deadline - time.time()) + 0.5)
    daemon.start()
    check(daemon.url, "no URL after the restart (was %s)" % old_url)
    sfn = client(daemon.url)
    d = wait_done(sfn, late, timeout=5)
    eq((d["status"], d.get("error")), ("FAILED", "States.Timeout"),
       "a callback whose deadline passed while the coordinator was down")
    h = history(sfn, late)
    eq(types(h), ["ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted",
                  "TaskTimedOut", "ExecutionFailed"], "history after the restart")
    # The deadline was not restarted: the timeout came at the restart
    # (3.5 s after the schedule), with no fresh 3 s.
    took = (h[4]["timestamp"] - h[2]["timestamp"]).total_seconds()
    check(3.0 <= took < 5.0, "timed out %.2fs after it was scheduled" % took)
    status, _ = http_get(link("approve", late_tok))
    check(400 <= status < 500, "approve after a timeout across a restart: %d" % status)
    # A token minted before the restart still opens its task after it.
    eq(sfn.describe_execution(executionArn=keep)["status"], "RUNNING", "untimed review")
    status, page = http_get(link("approve", keep_tok))
    eq(status, 200, "approve link minted before the restart: " + page)
    d = wait_done(sfn, keep)
    eq((d["status"], json.loads(d["output"])),
       ("SUCCEEDED", {"decision": "Approved", "action": "deploy"}), "approved after a restart")
    eq(types(history(sfn, keep)), HEAD + ["PassStateEntered", "PassStateExited",
                                          "ExecutionSucceeded"], "approved history")


def test_links_logged_per_task():
    """Each of the six review tasks above logged its links when it began to
    wait; the one still waiting across the restart was announced again by
    the restarted daemon, with the address it serves on now (links logged
    before a restart may point at a port that is gone)."""
    found = re.findall(r"approve: (http://127\.0\.0\.1:\d+)/approve/(\S+)  "
                       r"reject: (http://127\.0\.0\.1:\d+)/reject/(\S+)", daemon.log_text())
    toks = [f[1] for f in found]
    eq(len(set(toks)), 6, "distinct tokens logged")
    # The review kept across the restart, and maybe the one whose timeout
    # fell during the restart (if the restarted timer had not ended it yet).
    again = [t for t in set(toks) if toks.count(t) > 1]
    check(1 <= len(again) <= 2, "tokens announced again after the restart: %d" % len(again))
    eq(len(toks), 6 + len(again), "approve links logged")
    for tok in again:
        last_base = [f[0] for f in found if f[1] == tok][-1]
        eq(last_base, daemon.url, "the repeated link names the restarted daemon")
    for a_base, a_tok, r_base, r_tok in found:
        eq((r_base, r_tok), (a_base, a_tok), "reject link of the pair")
        eq(len(a_tok), 60, "logged token length")

try:
    run([
        ("approve link", test_approve),
        ("reject link", test_reject),
        ("forged links", test_forged),
        ("callback TimeoutSeconds", test_timeout),
        ("timeout across a restart", test_timeout_across_restart),
        ("links in the log", test_links_logged_per_task),
    ])
finally:
    if daemon.running():
        daemon.stop()
