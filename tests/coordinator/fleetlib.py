"""tests/coordinator/fleetlib.py - what the fleet's integration tests share:
statefleet-worker processes started by the test, the raw JSON calls boto3
cannot make (StatefleetGetStats; DescribeExecution and GetExecutionHistory
with the members boto3 drops), and polling helpers.

Not a test itself (ctest globs test_*.py). Every worker started here gets
SIGKILL when the test process dies, however it dies (coordlib's setpriv
prefix), and is killed at exit otherwise.
"""
import atexit
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

from coordlib import _DIE_WITH_PARENT, LoggedProcess, TestFailure, check

SPIN = "arn:aws:states:::statefleet:runKernel"

_workers = []


def worker_binary(coord):
    """statefleet-worker, beside the coordinator binary."""
    w = os.path.join(os.path.dirname(coord), "statefleet-worker")
    if not os.access(w, os.X_OK):
        raise TestFailure("%s: not an executable (it is built beside the coordinator)" % w)
    return w


def free_port():
    """A TCP port free on 127.0.0.1 just now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Worker(LoggedProcess):
    """One statefleet-worker process, its stderr in workdir/worker-ID.log.
    prefix goes before the binary (e.g. ["ip", "netns", "exec", NS])."""

    def __init__(self, binary, workdir, endpoint, wid, extra=(), prefix=()):
        self.binary = binary
        self.endpoint = endpoint
        self.id = wid
        self.extra = list(extra)
        self.prefix = list(prefix)
        self.log_path = os.path.join(workdir, "worker-%s.log" % wid)
        self.proc = None
        _workers.append(self)

    def argv(self):
        return (_DIE_WITH_PARENT + self.prefix +
                [self.binary, "--coordinator", self.endpoint, "--id", self.id] + self.extra)

    def start(self):
        check(not self.running(), "worker %s already running" % self.id)
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=logf,
                                     stderr=logf)
        logf.close()
        return self

    def stop(self, timeout=15):
        """SIGTERM; returns the exit status (None if it had to be killed)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


def _cleanup():
    for w in _workers:
        try:
            if w.running():
                w.proc.kill()
                w.proc.wait(5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


atexit.register(_cleanup)


def worker_logs():
    paths = []
    for w in _workers:
        if w.log_path not in paths:
            paths.append(w.log_path)
    return "\n".join("---- %s (last lines) ----\n%s" % (p, _tail(p)) for p in paths)


def _tail(path, n=15):
    try:
        with open(path, "rb") as f:
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-n:])
    except OSError:
        return ""


# ---- raw JSON calls -------------------------------------------------------------


def call(url, op, body=None, timeout=30):
    """POSTs one Step Functions JSON 1.0 operation; returns the decoded
    answer, raising TestFailure on an HTTP error."""
    data = json.dumps(body if body is not None else {}).encode()
    req = urllib.request.Request(url.rstrip("/") + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "AWSStepFunctions." + op})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read().decode("utf-8"))
    except urllib.error.HTTPError as e:
        raise TestFailure("%s: HTTP %d: %s" % (op, e.code, e.read().decode("utf-8", "replace")))


def stats(url):
    """The "fleet" part of StatefleetGetStats."""
    r = call(url, "StatefleetGetStats", {})
    check(isinstance(r.get("fleet"), dict), "StatefleetGetStats has no fleet object: %r" % r)
    return r["fleet"]


def workers_by_id(url):
    return {w["id"]: w for w in stats(url)["workers"]}


def describe(url, arn):
    return call(url, "DescribeExecution", {"executionArn": arn})


def raw_history(url, arn):
    events, tok = [], None
    while True:
        body = {"executionArn": arn}
        if tok:
            body["nextToken"] = tok
        r = call(url, "GetExecutionHistory", body)
        events += r["events"]
        tok = r.get("nextToken")
        if not tok:
            return events


def wait_for(what, fn, timeout=15, poll=0.05):
    """Polls fn() until it returns something true; returns that."""
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise TestFailure("%s: not so after %ss" % (what, timeout))
        time.sleep(poll)


def wait_workers(url, ids, timeout=15):
    """Waits until every id in ids is registered; returns the workers by id."""
    ids = set(ids)

    def joined():
        ws = workers_by_id(url)
        return ws if ids <= set(ws) else None
    try:
        return wait_for("workers %s joined" % sorted(ids), joined, timeout)
    except TestFailure as e:
        raise TestFailure("%s; registered: %s\n%s" % (e, sorted(workers_by_id(url)),
                                                       worker_logs()))


def wait_placed(url, arn, timeout=15, with_progress=False):
    """Waits until the execution's first statefleetTasks entry names a
    worker (and has progress, if asked); returns that entry."""
    def placed():
        d = describe(url, arn)
        if d["status"] != "RUNNING":
            raise TestFailure("execution %s ended (%s) before its task was placed: %s"
                              % (arn, d["status"], d.get("cause")))
        for t in d.get("statefleetTasks", []):
            if t.get("worker") and (not with_progress or t.get("progress")):
                return t
        return None
    return wait_for("a task of %s placed on a worker" % arn, placed, timeout)


def spin_machine_def(duration_ms, cores=1, retry=None, records=1000, epochs=2, extra=None):
    params = {"Kernel": "spin", "DurationMs": duration_ms, "Records": records, "Epochs": epochs,
              "Cores": cores}
    params.update(extra or {})
    state = {"Type": "Task", "Resource": SPIN, "Parameters": params, "End": True}
    if retry:
        state["Retry"] = retry
    return {"StartAt": "Spin", "States": {"Spin": state}}
