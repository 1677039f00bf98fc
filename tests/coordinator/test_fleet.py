"""tests/coordinator/test_fleet.py - Task states on the worker fleet: a real
coordinator (--no-local-workers, 200 ms heartbeats) and real
statefleet-worker processes started here on loopback. Workers join with
their capabilities; a spin kernel runs with progress visible in
DescribeExecution and the history; placement follows cores; a worker
killed mid-task fails its task naming it and the Retry runs elsewhere; a
kernel nobody runs fails; StopExecution cancels on the worker; `statefleet
watch` follows a run; and a default coordinator runs a Lambda-style
function through the local worker it spawns.

usage: /usr/bin/python3 test_fleet.py COORDINATOR STATEFLEET SRCDIR
"""
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (FN_PREFIX, Daemon, TestFailure, args, check, client,  # noqa: E402
                      create_machine, eq, log, run, tempdir, types, wait_done)
from fleetlib import (SPIN, Worker, describe, raw_history, spin_machine_def,  # noqa: E402
                      stats, wait_for, wait_placed, wait_workers, worker_binary, worker_logs,
                      workers_by_id)

COORD, CLI, _SRC = args()
WORKER = worker_binary(COORD)
WORK = tempdir("fleet")
daemon = Daemon(COORD, WORK, extra=["--no-local-workers", "--heartbeat-ms", "200",
                                    "--progress-history-seconds", "1",
                                    "--unplaceable-seconds", "1"])
daemon.start()
URL = daemon.url
sfn = client(URL)
FLEET = stats(URL)["endpoint"]
SYNTHETIC = "synthetic:package:2 numa:2 core:4 pu:1"

workers = {}


def start_worker(wid, *extra):
    w = Worker(WORKER, WORK, FLEET, wid, extra=extra).start()
    workers[wid] = w
    return w


def mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return None


def children(pid):
    """Every child process of pid, whichever of its threads started it."""
    kids = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                kids += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return kids


def test_workers_join():
    check(re.fullmatch(r"tcp://127\.0\.0\.1:\d+", FLEET),
          "fleet endpoint %r, want tcp://127.0.0.1:PORT" % FLEET)
    eq(stats(URL)["curve"], False, "CURVE on a loopback endpoint")
    eq(stats(URL)["workers"], [], "workers before any joined (--no-local-workers)")
    start_worker("alpha")
    start_worker("beta")
    ws = wait_workers(URL, ["alpha", "beta"])
    eq(sorted(ws), ["alpha", "beta"], "registered workers")
    total = mem_total()
    for wid in ("alpha", "beta"):
        w = ws[wid]
        check(isinstance(w.get("cores"), int) and w["cores"] >= 1, "%s cores: %r" % (wid, w))
        check(isinstance(w.get("numaNodes"), int) and w["numaNodes"] >= 1,
              "%s numaNodes: %r" % (wid, w))
        check(isinstance(w.get("memoryBytes"), int) and w["memoryBytes"] > 0 and
              (total is None or w["memoryBytes"] <= total * 1.01),
              "%s memoryBytes %r (MemTotal %r)" % (wid, w.get("memoryBytes"), total))
        eq(w.get("gpus"), 0, "%s gpus" % wid)
        eq(w.get("maxTasks"), w["cores"], "%s maxTasks (default: the cores served)" % wid)
        eq(w.get("running"), 0, "%s running" % wid)


def test_spin_succeeds_with_progress():
    sm = create_machine(sfn, "spin-ok", spin_machine_def(3000, records=1000, epochs=2))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    seen = []  # (worker, fraction, records, epoch) while RUNNING
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        d = describe(URL, arn)
        if d["status"] != "RUNNING":
            break
        for t in d.get("statefleetTasks", []):
            eq((t.get("stateName"), t.get("resource"), t.get("kernel"), t.get("attempt")),
               ("Spin", SPIN, "spin", 0), "statefleetTasks entry")
            check(isinstance(t.get("startDate"), (int, float)), "startDate: %r" % t)
            p = t.get("progress")
            if p:
                for k in ("fraction", "records", "epoch", "metrics", "updatedDate"):
                    check(k in p, "progress lacks %s: %r" % (k, p))
                seen.append((t.get("worker"), p["fraction"], p["records"], p["epoch"]))
        time.sleep(0.1)
    d = wait_done(sfn, arn, timeout=20)
    eq(d["status"], "SUCCEEDED", "spin execution")
    out = json.loads(d["output"])
    eq((out.get("Records"), out.get("Epochs")), (1000, 2), "spin output")
    check(isinstance(out.get("ElapsedMs"), int) and out["ElapsedMs"] >= 3000,
          "spin ElapsedMs %r, want at least DurationMs 3000" % out.get("ElapsedMs"))
    check(len(seen) >= 3, "progress seen in DescribeExecution only %d times: %r" % (len(seen), seen))
    check({s[0] for s in seen} <= {"alpha", "beta"} and len({s[0] for s in seen}) == 1,
          "statefleetTasks.worker: %r" % {s[0] for s in seen})
    fr = [s[1] for s in seen]
    check(all(b >= a for a, b in zip(fr, fr[1:])), "fraction went backwards: %r" % fr)
    check(fr[-1] > fr[0] and 0 <= fr[0] and fr[-1] <= 1, "fraction did not rise: %r" % fr)
    recs = [s[2] for s in seen]
    check(all(b >= a for a, b in zip(recs, recs[1:])) and recs[-1] > recs[0],
          "records did not rise: %r" % recs)
    # Once over, no task is listed.
    check(not describe(URL, arn).get("statefleetTasks"),
          "statefleetTasks still listed after the end: %r" % describe(URL, arn))

    h = raw_history(URL, arn)
    ts = [e["type"] for e in h]
    for want in ("TaskScheduled", "TaskStarted", "TaskProgress", "TaskSucceeded"):
        check(want in ts, "no %s in the history: %s" % (want, ts))
    i_start, i_ok = ts.index("TaskStarted"), ts.index("TaskSucceeded")
    check(ts.index("TaskScheduled") < i_start < i_ok, "event order: %s" % ts)
    prog = [e for e in h if e["type"] == "TaskProgress"]
    check(all(i_start < i < i_ok for i, e in enumerate(h) if e["type"] == "TaskProgress"),
          "TaskProgress outside TaskStarted..TaskSucceeded: %s" % ts)
    # A 3 s task with --progress-history-seconds 1: a few, not one per report
    # (the worker reports 4 times a second).
    check(1 <= len(prog) <= 5, "%d TaskProgress events for a 3 s task: %s" % (len(prog), ts))
    det = prog[0].get("taskProgressEventDetails")
    check(isinstance(det, dict), "TaskProgress without taskProgressEventDetails: %r" % prog[0])
    eq((det.get("resourceType"), det.get("resource")), ("statefleet", "runKernel"),
       "TaskProgress resourceType/resource")
    p = det.get("progress", {})
    check(isinstance(p.get("fraction"), (int, float)) and 0 <= p["fraction"] <= 1,
          "TaskProgress progress: %r" % p)
    check("train:objective_loss" in p.get("metrics", {}), "TaskProgress metrics: %r" % p)
    ok = h[i_ok]["taskSucceededEventDetails"]
    eq(json.loads(ok["output"]), out, "TaskSucceeded output")
    eq(types(h)[-1], "ExecutionSucceeded", "last event")


def test_placement_by_cores():
    start_worker("synth", "--topology", SYNTHETIC)
    ws = wait_workers(URL, ["alpha", "beta", "synth"])
    eq((ws["synth"]["numaNodes"], ws["synth"]["cores"]), (4, 16), "synthetic worker numaNodes, cores")
    real_cores = max(ws["alpha"]["cores"], ws["beta"]["cores"])
    check(real_cores < 3, "this test needs real workers with fewer than 3 cores, got %d" % real_cores)
    sm = create_machine(sfn, "spin-3-cores", spin_machine_def(1500, cores=3))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    t = wait_placed(URL, arn)
    eq(t["worker"], "synth", "worker of a 3-core task")
    d = wait_done(sfn, arn, timeout=20)
    eq(d["status"], "SUCCEEDED", "3-core spin")
    # And one that fits nowhere waits, then fails as unplaceable.
    sm = create_machine(sfn, "spin-64-cores", spin_machine_def(100, cores=64))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    d = wait_done(sfn, arn, timeout=20)
    eq((d["status"], d.get("error")), ("FAILED", "States.TaskFailed"), "64-core spin")
    # The synthetic worker is done: the next tests want exactly two workers.
    eq(workers["synth"].stop(), 0, "synthetic worker's exit status after SIGTERM")
    wait_for("synth gone from StatefleetGetStats", lambda: "synth" not in workers_by_id(URL), 10)


def test_lost_worker_retry_elsewhere():
    wait_workers(URL, ["alpha", "beta"])
    lost_before = stats(URL)["lostWorkers"]
    sm = create_machine(sfn, "spin-retry", spin_machine_def(4000, retry=[
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2,
         "BackoffRate": 1.0}]))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    first = wait_placed(URL, arn, with_progress=True)
    victim = first["worker"]
    check(victim in ("alpha", "beta"), "placed on %r" % victim)
    other = "beta" if victim == "alpha" else "alpha"
    log("killing worker %s (pid %d) mid-task" % (victim, workers[victim].proc.pid))
    workers[victim].kill9()

    def retried():
        d = describe(URL, arn)
        if d["status"] != "RUNNING":
            raise TestFailure("execution ended (%s: %s) before the retry ran"
                              % (d["status"], d.get("cause")))
        for t in d.get("statefleetTasks", []):
            if t.get("attempt", 0) >= 1 and t.get("worker"):
                return t
        return None
    again = wait_for("the retry placed", retried, timeout=15)
    eq(again["worker"], other, "worker of the retry")
    d = wait_done(sfn, arn, timeout=30)
    eq(d["status"], "SUCCEEDED", "execution after losing a worker (with Retry)")
    h = raw_history(URL, arn)
    fails = [e for e in h if e["type"] == "TaskFailed"]
    eq(len(fails), 1, "TaskFailed events")
    fd = fails[0]["taskFailedEventDetails"]
    eq(fd.get("error"), "States.TaskFailed", "TaskFailed error")
    log("cause: %s" % fd.get("cause"))
    check("worker '%s' was lost" % victim in (fd.get("cause") or ""),
          "TaskFailed cause %r does not name the lost worker %r" % (fd.get("cause"), victim))
    ts = [e["type"] for e in h]
    eq(ts.count("TaskStarted"), 2, "TaskStarted events (first attempt and the retry)")
    check(ts.index("TaskFailed") < len(ts) - 1 - ts[::-1].index("TaskStarted") <
          ts.index("TaskSucceeded"), "retry order: %s" % ts)
    ws = wait_for("%s gone from StatefleetGetStats" % victim,
                  lambda: (lambda w: w if victim not in w else None)(workers_by_id(URL)), 10)
    eq(sorted(ws), [other], "workers after the loss")
    check(stats(URL)["lostWorkers"] >= lost_before + 1, "lostWorkers did not grow: %r" % stats(URL))
    check("worker '%s' lost" % victim in daemon.log_text(),
          "the coordinator's log does not say %s was lost" % victim)
    # Bring it back for what follows.
    start_worker(victim)
    wait_workers(URL, ["alpha", "beta"])


def test_unknown_kernel_fails():
    sm = create_machine(sfn, "no-such-kernel", {"StartAt": "K", "States": {"K": {
        "Type": "Task", "Resource": SPIN, "Parameters": {"Kernel": "warp-drive"}, "End": True}}})
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    d = wait_done(sfn, arn, timeout=20)
    eq((d["status"], d.get("error")), ("FAILED", "States.TaskFailed"), "unknown kernel")
    log("cause: %s" % d.get("cause"))
    check("warp-drive" in (d.get("cause") or ""),
          "cause %r does not name the kernel" % d.get("cause"))
    ts = [e["type"] for e in raw_history(URL, arn)]
    check("TaskFailed" in ts and "TaskSucceeded" not in ts, "history: %s" % ts)


def test_stop_cancels_on_worker():
    wait_workers(URL, ["alpha", "beta"])
    sm = create_machine(sfn, "spin-long", spin_machine_def(60000))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    t = wait_placed(URL, arn, with_progress=True)
    wid = t["worker"]
    # Stats are refreshed every half heartbeat: a moment late.
    wait_for("%s running 1 before the stop" % wid,
             lambda: workers_by_id(URL).get(wid, {}).get("running") == 1, timeout=5)
    t0 = time.monotonic()
    sfn.stop_execution(executionArn=arn, error="Test.Stop", cause="enough")
    d = wait_done(sfn, arn, timeout=10)
    eq(d["status"], "ABORTED", "stopped execution")
    # The coordinator keeps the task's room taken until the worker answers
    # the cancel, so running back at 0 means the worker stopped it.
    wait_for("%s running back to 0 after StopExecution" % wid,
             lambda: workers_by_id(URL).get(wid, {}).get("running") == 0, timeout=10)
    took = time.monotonic() - t0
    check(took < 8, "the worker took %.1fs to answer a cancel" % took)
    check(workers[wid].running(), "worker %s exited on a cancel" % wid)
    # It still takes work afterwards.
    sm2 = create_machine(sfn, "spin-after-stop", spin_machine_def(200))
    arn2 = sfn.start_execution(stateMachineArn=sm2, input="{}")["executionArn"]
    eq(wait_done(sfn, arn2, timeout=20)["status"], "SUCCEEDED", "a task after the cancel")


def test_watch():
    sm = create_machine(sfn, "spin-watched", spin_machine_def(3000, records=500, epochs=1))
    arn = sfn.start_execution(stateMachineArn=sm, name="watched", input="{}")["executionArn"]
    p = subprocess.run([CLI, "watch", arn, "--endpoint", URL], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    eq(p.returncode, 0, "statefleet watch exit status (stdout:\n%s\nstderr:\n%s)" % (out, err))
    lines = out.splitlines()
    check(lines and not any("\x1b" in ln for ln in lines),
          "watch printed terminal escapes when not a tty:\n%s" % out)
    check(any(re.search(r"Spin started kernel=spin .*worker=(alpha|beta)", ln) for ln in lines),
          "no 'Spin started kernel=spin ... worker=' line:\n%s" % out)
    prog = [ln for ln in lines if re.search(r" Spin \d+% records=\d+", ln)]
    check(len(prog) >= 2, "fewer than 2 progress lines:\n%s" % out)
    pct = [int(re.search(r" Spin (\d+)%", ln).group(1)) for ln in prog]
    check(pct == sorted(pct) and pct[-1] > pct[0], "progress percentages %r" % pct)
    check(re.search(r" watched SUCCEEDED( after \S+)?$", lines[-1]),
          "last line is not the SUCCEEDED line:\n%s" % out)
    eq(wait_done(sfn, arn, timeout=5)["status"], "SUCCEEDED", "watched execution")
    if os.environ.get("SF_TEST_SHOW"):
        log(out)


def test_function_on_local_worker():
    work = tempdir("fleet-local")
    fdir = os.path.join(work, "functions")
    os.makedirs(fdir)
    with open(os.path.join(fdir, "whoami"), "w") as f:
        f.write('#!/bin/sh\n'
                'in=$(cat)\n'
                'printf \'{"parent": "%s", "input": %s}\\n\' "$(cat /proc/$PPID/comm)" "$in"\n')
    os.chmod(os.path.join(fdir, "whoami"), 0o755)
    d2 = Daemon(COORD, work, functions=fdir)  # default: local workers
    d2.start()
    kids = []
    try:
        s2 = client(d2.url)
        local = wait_for("a local worker joined", lambda: stats(d2.url)["workers"], timeout=20)
        check(len(local) >= 1, "local workers: %r" % local)
        kids = children(d2.proc.pid)
        check(kids, "the coordinator has no child processes (its local workers)")
        sm = create_machine(s2, "whoami", {"StartAt": "Who", "States": {"Who": {
            "Type": "Task", "Resource": FN_PREFIX + "whoami", "End": True}}})
        arn = s2.start_execution(stateMachineArn=sm, input='{"n": 7}')["executionArn"]
        d = wait_done(s2, arn, timeout=30)
        eq(d["status"], "SUCCEEDED", "function execution (cause %r)" % d.get("cause"))
        out = json.loads(d["output"])
        eq(out.get("input"), {"n": 7}, "the function's input")
        # /proc/PID/comm holds at most 15 bytes: "statefleet-work".
        check(out.get("parent") and "statefleet-worker".startswith(out["parent"]) and
              len(out["parent"]) >= 10,
              "the function's parent is %r, want statefleet-worker" % out.get("parent"))
        check(stats(d2.url)["results"] >= 1, "fleet results: %r" % stats(d2.url))
        d2.stop()
        # The coordinator's local workers leave with it.
        for pid in kids:
            wait_for("local worker %d gone after the coordinator stopped" % pid,
                     lambda: not os.path.exists("/proc/%d" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z", timeout=10)
    finally:
        d2.kill9()
        for pid in kids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


def test_local_workers_die_with_coordinator():
    """A coordinator killed outright (SIGKILL: no chance to stop them)
    leaves no local worker behind."""
    d3 = Daemon(COORD, tempdir("fleet-kill"))
    d3.start()
    kids = []
    try:
        wait_for("a local worker joined", lambda: stats(d3.url)["workers"], timeout=20)
        kids = children(d3.proc.pid)
        check(kids, "the coordinator has no child processes (its local workers)")
        d3.kill9()
        for pid in kids:
            wait_for("local worker %d gone after the coordinator was killed" % pid,
                     lambda: not os.path.exists("/proc/%d" % pid) or
                     open("/proc/%d/stat" % pid).read().split()[2] == "Z", timeout=10)
    finally:
        d3.kill9()
        for pid in kids:
            try:
                os.kill(pid, 9)
            except OSError:
                pass


try:
    run([
        ("two workers join with their capabilities", test_workers_join),
        ("spin succeeds with progress", test_spin_succeeds_with_progress),
        ("placement by cores", test_placement_by_cores),
        ("lost worker: retry on the other", test_lost_worker_retry_elsewhere),
        ("unknown kernel fails", test_unknown_kernel_fails),
        ("StopExecution cancels on the worker", test_stop_cancels_on_worker),
        ("statefleet watch", test_watch),
        ("function on a local worker", test_function_on_local_worker),
        ("local workers die with a killed coordinator", test_local_workers_die_with_coordinator),
    ])
except SystemExit:
    log(worker_logs())
    raise
finally:
    for w in workers.values():
        w.stop(5)
    if daemon.running():
        daemon.stop()
