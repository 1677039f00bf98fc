"""tests/coordinator/coordlib.py - what the coordinator's integration tests
share: starting and stopping real statefleet-coordinator daemons on loopback,
boto3 clients pointed at them, polling helpers and checks.

Runs under Debian's /usr/bin/python3 (boto3 1.26 from python3-boto3); the
standard library and boto3 only. Every daemon started here is killed when the
test process exits, whatever happened, and every temporary directory made by
tempdir() is removed.
"""
import atexit
import copy
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = "arn:aws:iam::123456789012:role/statefleet-test"
SM_PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"
EX_PREFIX = "arn:aws:states:us-east-1:123456789012:execution:"
ACT_PREFIX = "arn:aws:states:us-east-1:123456789012:activity:"
FN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"


class TestFailure(AssertionError):
    pass


def check(cond, msg):
    """Fails the test with msg (a string, or a callable making one) unless cond."""
    if not cond:
        raise TestFailure(msg() if callable(msg) else msg)


def eq(got, want, what):
    if got != want:
        raise TestFailure("%s: got %r, want %r" % (what, got, want))


def log(*args):
    print(*args, flush=True)


# ---- arguments and temporary directories ------------------------------------


def args():
    """(coordinator binary, statefleet binary, source dir) from argv."""
    if len(sys.argv) != 4:
        sys.stderr.write("usage: %s COORDINATOR STATEFLEET SRCDIR\n" % sys.argv[0])
        sys.exit(2)
    coord, cli, src = sys.argv[1:4]
    for p in (coord, cli):
        if not os.access(p, os.X_OK):
            sys.stderr.write("%s: not an executable\n" % p)
            sys.exit(2)
    return os.path.abspath(coord), os.path.abspath(cli), os.path.abspath(src)


_tempdirs = []


def tempdir(tag="coord"):
    d = tempfile.mkdtemp(prefix="sf-%s-" % tag)
    _tempdirs.append(d)
    return d


# ---- daemons ---------------------------------------------------------------

_daemons = []
# The daemon gets SIGKILL when the test process dies, however it dies (a
# ctest timeout, a kill): none outlives its test. setpriv (util-linux) sets
# that up and execs it, so the daemon keeps its process id. Daemons are
# started from the main thread, whose exit is what the kernel watches.
_DIE_WITH_PARENT = (["/usr/bin/setpriv", "--pdeathsig", "KILL", "--"]
                    if os.access("/usr/bin/setpriv", os.X_OK) else [])


class LoggedProcess:
    """A child process (self.proc) whose stdout and stderr go to self.log_path."""

    proc = None
    log_path = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
        if self.proc:
            self.proc.wait()

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])


class Daemon(LoggedProcess):
    """One statefleet-coordinator process. start() waits until its ready
    file names its URL; kill9() and stop() end it; start() again resumes on
    the same database (a new port, so self.url changes)."""

    def __init__(self, binary, workdir, db=None, functions=None, poll_seconds=None,
                 public_url=None, quiet=False, extra=()):
        self.binary = binary
        self.workdir = workdir
        self.db = db or os.path.join(workdir, "coord.db")
        self.functions = functions
        self.poll_seconds = poll_seconds
        self.public_url = public_url
        self.quiet = quiet
        self.extra = list(extra)
        self.proc = None
        self.url = None
        self.starts = 0
        self.log_path = os.path.join(workdir, "coordinator.log")
        _daemons.append(self)

    def argv(self, ready):
        a = _DIE_WITH_PARENT + [self.binary, "--db", self.db, "--http", "127.0.0.1:0",
                                "--ready-file", ready]
        if self.functions:
            a += ["--functions", self.functions]
        if self.poll_seconds is not None:
            a += ["--poll-seconds", str(self.poll_seconds)]
        if self.public_url:
            a += ["--public-url", self.public_url]
        if self.quiet:
            a += ["--quiet"]
        return a + self.extra

    def start(self, timeout=15):
        check(not self.running(), "daemon already running")
        self.starts += 1
        ready = os.path.join(self.workdir, "ready.%d" % self.starts)
        logf = open(self.log_path, "ab")
        logf.write(b"---- start %d ----\n" % self.starts)
        logf.flush()
        self.proc = subprocess.Popen(self.argv(ready), stdin=subprocess.DEVNULL,
                                     stdout=logf, stderr=logf, cwd=self.workdir)
        logf.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if os.path.exists(ready):
                with open(ready) as f:
                    url = f.read().strip()
                if url:
                    self.url = url
                    return url
            rc = self.proc.poll()
            if rc is not None:
                raise TestFailure("coordinator exited with %d before it was ready; log:\n%s"
                                  % (rc, self.log_tail()))
            time.sleep(0.02)
        raise TestFailure("coordinator not ready after %ss; log:\n%s" % (timeout, self.log_tail()))

    def stop(self, timeout=20):
        """SIGTERM; the daemon must exit 0 within timeout."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise TestFailure("coordinator did not stop within %ss of SIGTERM" % timeout)
        eq(rc, 0, "coordinator exit status after SIGTERM")
        return rc


def _cleanup():
    for d in _daemons:
        try:
            if d.running():
                d.proc.kill()
                d.proc.wait(5)
        except Exception:
            pass
    for t in _tempdirs:
        shutil.rmtree(t, ignore_errors=True)


atexit.register(_cleanup)
# SIGTERM (ctest's timeout, a user) unwinds like an error, so that finally
# blocks and the atexit cleanup run.
signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

# ---- boto3 -------------------------------------------------------------------

# botocore 1.29 (Debian 12) predates ValidateStateMachineDefinition (2023):
# the client is given a copy of its Step Functions model with that one
# operation added, so that it too goes through boto3's own request and error
# handling. Newer botocore models have it already and are left alone.
_VALIDATE_OP = {
    "name": "ValidateStateMachineDefinition",
    "http": {"method": "POST", "requestUri": "/"},
    "input": {"shape": "SfTestValidateInput"},
    "output": {"shape": "SfTestValidateOutput"},
    "errors": [{"shape": "ValidationException"}],
}
_VALIDATE_SHAPES = {
    "SfTestValidateInput": {
        "type": "structure",
        "required": ["definition"],
        "members": {
            "definition": {"shape": "Definition"},
            "type": {"shape": "StateMachineType"},
            "maxResults": {"shape": "PageSize"},
        },
    },
    "SfTestValidateOutput": {
        "type": "structure",
        "required": ["result", "diagnostics"],
        "members": {
            "result": {"shape": "SfTestString"},
            "diagnostics": {"shape": "SfTestDiagList"},
            "truncated": {"shape": "SfTestBool"},
        },
    },
    "SfTestDiagList": {"type": "list", "member": {"shape": "SfTestDiag"}},
    "SfTestDiag": {
        "type": "structure",
        "members": {
            "severity": {"shape": "SfTestString"},
            "code": {"shape": "SfTestString"},
            "message": {"shape": "SfTestString"},
            "location": {"shape": "SfTestString"},
        },
    },
    "SfTestString": {"type": "string"},
    "SfTestBool": {"type": "boolean"},
}

_session = None


def _botocore_session():
    global _session
    if _session is not None:
        return _session
    s = botocore.session.get_session()
    loader = s.get_component("data_loader")
    # A loader of its own reads the shipped model: the session's caches what
    # it loads, and must first see the search path added below.
    model = botocore.loaders.Loader().load_service_model("stepfunctions", "service-2")
    if "ValidateStateMachineDefinition" not in model["operations"]:
        model = copy.deepcopy(model)
        model["operations"]["ValidateStateMachineDefinition"] = _VALIDATE_OP
        model["shapes"].update(_VALIDATE_SHAPES)
        d = tempdir("model")
        ver = os.path.join(d, "stepfunctions", model["metadata"]["apiVersion"])
        os.makedirs(ver)
        with open(os.path.join(ver, "service-2.json"), "w") as f:
            json.dump(model, f)
        loader.search_paths.insert(0, d)
    _session = s
    return s


def client(url, read_timeout=70):
    """A Step Functions client for the daemon at url: dummy credentials,
    us-east-1, no retries (a retry would hide a failed call), and no host
    prefix."""
    session = boto3.session.Session(botocore_session=_botocore_session(),
                                    aws_access_key_id="AKIDSTATEFLEETTEST",
                                    aws_secret_access_key="statefleet-test-secret",
                                    region_name=REGION)
    return session.client("stepfunctions", endpoint_url=url,
                          config=Config(read_timeout=read_timeout, connect_timeout=5,
                                        # One attempt in all: botocore's legacy
                                        # "max_attempts" counts retries, and a
                                        # silent retry would hide a failed call.
                                        retries={"total_max_attempts": 1},
                                        # StartSyncExecution's model puts "sync-"
                                        # before the host: not for loopback.
                                        inject_host_prefix=False))


def expect_error(code, fn, *a, **kw):
    """Calls fn and checks it fails with the AWS error code; returns the
    ClientError's response."""
    try:
        r = fn(*a, **kw)
    except ClientError as e:
        got = e.response.get("Error", {}).get("Code")
        if got != code:
            raise TestFailure("%s: got error %s (%s), want %s" % (
                getattr(fn, "__name__", fn), got, e.response.get("Error", {}).get("Message"), code))
        return e.response
    raise TestFailure("%s: succeeded (%r), want error %s" % (getattr(fn, "__name__", fn), r, code))


# ---- executions ----------------------------------------------------------------


def create_machine(sfn, name, definition, type_="STANDARD"):
    d = definition if isinstance(definition, str) else json.dumps(definition)
    return sfn.create_state_machine(name=name, definition=d, roleArn=ROLE,
                                    type=type_)["stateMachineArn"]


def wait_done(sfn, arn, timeout=30, poll=0.05):
    """DescribeExecution once it has ended (any status but RUNNING)."""
    deadline = time.monotonic() + timeout
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        if time.monotonic() > deadline:
            raise TestFailure("execution %s still RUNNING after %ss" % (arn, timeout))
        time.sleep(poll)


def history(sfn, arn, **kw):
    """The whole history, following nextToken."""
    events, tok = [], None
    while True:
        a = dict(kw, executionArn=arn)
        if tok:
            a["nextToken"] = tok
        r = sfn.get_execution_history(**a)
        events += r["events"]
        tok = r.get("nextToken")
        if not tok:
            return events


def types(events):
    return [e["type"] for e in events]


def wait_event(sfn, arn, type_, timeout=15, poll=0.05):
    """Waits for the first event of type_ in arn's history; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        for e in history(sfn, arn):
            if e["type"] == type_:
                return e
        if time.monotonic() > deadline:
            raise TestFailure("no %s event in %s after %ss; history: %s"
                              % (type_, arn, timeout, types(history(sfn, arn))))
        time.sleep(poll)


def task_token_of(event):
    """The task token a TaskScheduled event's parameters carry (the
    "TaskToken.$": "$$.Task.Token" pattern)."""
    params = json.loads(event["taskScheduledEventDetails"]["parameters"])
    tok = params.get("TaskToken") or params.get("MessageBody", {}).get("TaskToken")
    check(isinstance(tok, str) and tok, "no TaskToken in parameters %r" % params)
    return tok


def http_get(url, timeout=10):
    """(status, body text) of a GET, 4xx/5xx included."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


# ---- running test functions ---------------------------------------------------


def run(tests):
    """Runs each (name, fn) in order; prints PASS/FAIL with timing; exits 1
    when any failed. SF_TEST_ONLY=TEXT runs only the tests whose name holds
    TEXT (a later test may rely on what an earlier one made)."""
    only = os.environ.get("SF_TEST_ONLY")
    if only:
        tests = [t for t in tests if only in t[0]]
    failed = []
    t_all = time.monotonic()
    for name, fn in tests:
        t0 = time.monotonic()
        try:
            fn()
            log("PASS %s (%.2fs)" % (name, time.monotonic() - t0))
        except Exception as e:  # noqa: BLE001 - every failure is reported
            import traceback
            traceback.print_exc()
            log("FAIL %s (%.2fs): %s" % (name, time.monotonic() - t0, e))
            failed.append(name)
            for d in _daemons:
                log("---- %s (last lines) ----\n%s" % (d.log_path, d.log_tail(15)))
    log("%d/%d passed in %.1fs" % (len(tests) - len(failed), len(tests),
                                   time.monotonic() - t_all))
    if failed:
        log("failed: " + ", ".join(failed))
        sys.exit(1)


# ---- an activity worker ------------------------------------------------------


def daemon_away(e):
    """Whether e says the daemon was not there (refused, reset, cut off
    mid-answer): what a client sees while a coordinator restarts."""
    return isinstance(e, (HTTPClientError, BotoConnectionError, ConnectionError))


class ActivityWorker(threading.Thread):
    """The activity worker of the talk, as a thread: loops GetActivityTask,
    hands the input to handler(input, token, client) and sends what it
    returns: ("success", output), ("failure", error, cause), or None (it
    answered itself, or let the task lapse).

    url_fn() gives the daemon's current URL, so the worker follows a
    daemon that restarts on another port. With tolerant=True it treats a
    refused or reset connection as the daemon being away: it waits and
    tries again, and an answer it could not deliver is sent again to the
    next daemon. Records every token it received (received, in order) and
    every answer the coordinator accepted (answered)."""

    def __init__(self, url_fn, activity_arn, handler, name="worker", tolerant=False):
        super().__init__(name=name, daemon=True)
        self.url_fn = url_fn
        self.activity_arn = activity_arn
        self.handler = handler
        self.worker_name = name
        self.tolerant = tolerant
        self.stopping = threading.Event()
        self.received = []
        self.answered = []
        self.late = []  # answers refused as TaskTimedOut (already closed)
        self.errors = []
        self._client = None
        self._client_url = None

    def client(self):
        url = self.url_fn()
        if url != self._client_url:
            self._client = client(url)
            self._client_url = url
        return self._client

    def stop(self, timeout=10):
        self.stopping.set()
        self.join(timeout)
        check(not self.is_alive(), "worker %s did not stop" % self.worker_name)
        check(not self.errors, lambda: "worker %s: %s" % (self.worker_name, self.errors))

    def _away(self, e):
        return self.tolerant and daemon_away(e)

    def _send(self, token, answer):
        while not self.stopping.is_set():
            try:
                c = self.client()
                if answer[0] == "success":
                    c.send_task_success(taskToken=token, output=json.dumps(answer[1]))
                else:
                    c.send_task_failure(taskToken=token, error=answer[1], cause=answer[2])
                self.answered.append(token)
                return
            except ClientError as e:
                if e.response["Error"]["Code"] == "TaskTimedOut":
                    self.late.append(token)
                    return
                raise
            except Exception as e:  # noqa: BLE001
                if not self._away(e):
                    raise
                time.sleep(0.05)

    def run(self):
        try:
            while not self.stopping.is_set():
                try:
                    t = self.client().get_activity_task(activityArn=self.activity_arn,
                                                        workerName=self.worker_name)
                except Exception as e:  # noqa: BLE001
                    if not self._away(e):
                        raise
                    time.sleep(0.05)
                    continue
                tok = t.get("taskToken")
                if not tok:
                    continue
                self.received.append(tok)
                answer = self.handler(json.loads(t["input"]), tok, self)
                if answer is not None:
                    self._send(tok, answer)
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            self.errors.append(repr(e))


class CallbackSender(threading.Thread):
    """Answers .waitForTaskToken tasks as an outside system would: watches
    executions (watch()), reads each task token from its TaskScheduled
    event's parameters once the event is `delay` seconds old, and sends
    SendTaskSuccess with output_fn(arn, token). Tolerates a daemon that is
    away (url_fn() gives the current URL). Records tokens whose answer was
    accepted (sent) and those refused as TaskTimedOut (late: an earlier
    answer was accepted, but its reply was lost)."""

    def __init__(self, url_fn, output_fn, delay=0.2, name="callback-sender"):
        super().__init__(name=name, daemon=True)
        self.url_fn = url_fn
        self.output_fn = output_fn
        self.delay = delay
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.watching = []
        self.sent = []
        self.late = []
        self.errors = []
        self._done = set()
        self._client = None
        self._client_url = None

    def watch(self, arn):
        with self.lock:
            self.watching.append(arn)

    def client(self):
        url = self.url_fn()
        if url != self._client_url:
            self._client = client(url)
            self._client_url = url
        return self._client

    def stop(self, timeout=10):
        self.stopping.set()
        self.join(timeout)
        check(not self.is_alive(), "callback sender did not stop")
        check(not self.errors, lambda: "callback sender: %s" % self.errors)

    def _sweep(self):
        with self.lock:
            arns = list(self.watching)
        for arn in arns:
            c = self.client()
            events = history(c, arn)
            if events and events[-1]["type"] in ("ExecutionSucceeded", "ExecutionFailed",
                                                  "ExecutionAborted", "ExecutionTimedOut"):
                with self.lock:
                    self.watching.remove(arn)
                continue
            for e in events:
                if e["type"] != "TaskScheduled":
                    continue
                if time.time() - e["timestamp"].timestamp() < self.delay:
                    continue
                tok = task_token_of(e)
                if tok in self._done:
                    continue
                try:
                    c.send_task_success(taskToken=tok, output=json.dumps(self.output_fn(arn, tok)))
                    self.sent.append(tok)
                except ClientError as err:
                    if err.response["Error"]["Code"] != "TaskTimedOut":
                        raise
                    self.late.append(tok)
                self._done.add(tok)

    def run(self):
        try:
            while not self.stopping.is_set():
                try:
                    self._sweep()
                except Exception as e:  # noqa: BLE001
                    if not daemon_away(e):
                        raise
                time.sleep(0.05)
        except Exception as e:  # noqa: BLE001
            import traceback
            traceback.print_exc()
            self.errors.append(repr(e))
