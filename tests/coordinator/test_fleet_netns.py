"""tests/coordinator/test_fleet_netns.py - a worker whose network goes away:
a coordinator listens on a private address at one end of a veth pair, one
worker runs inside a network namespace at the other end and one outside.
A long spin task with Retry runs on the namespaced worker; the link is cut
(the host end set down) and the coordinator must declare that worker lost
within its heartbeat timeout (3 x 300 ms, with slack), fail its task with a
cause naming it, and run the retry on the outside worker to SUCCEEDED.

Needs root and iproute2's `ip`; without either it prints SKIP and exits 0.
Every namespace and link it makes is removed in a finally, whatever fails.

usage: /usr/bin/python3 test_fleet_netns.py COORDINATOR STATEFLEET SRCDIR
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (Daemon, TestFailure, args, check, client, create_machine, eq,  # noqa: E402
                      log, run, tempdir, wait_done)
from fleetlib import (Worker, describe, free_port, raw_history, spin_machine_def,  # noqa: E402
                      stats, wait_for, wait_placed, wait_workers, worker_binary, worker_logs,
                      workers_by_id)

COORD, _CLI, _SRC = args()
IP = shutil.which("ip") or next((p for p in ("/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip")
                                 if os.access(p, os.X_OK)), None)
if os.geteuid() != 0 or not IP:
    print("SKIP test_fleet_netns: needs root and iproute2's ip (euid %d, ip %s)"
          % (os.geteuid(), IP or "missing"), flush=True)
    sys.exit(0)

WORKER = worker_binary(COORD)
WORK = tempdir("netns")
PID = os.getpid()
NS = "sfns%d" % PID
HOST_IF = "sfh%d" % PID  # IFNAMSIZ is 16: at most 10 characters here
NS_IF = "sfn%d" % PID
# A /24 of 10/8 chosen from the pid, so concurrent runs rarely collide.
NET = "10.%d.%d" % (100 + PID % 100, 1 + (PID // 100) % 250)
HOST_ADDR, NS_ADDR = NET + ".1", NET + ".2"
HB_MS = 300

workers = {}
state = {}


def ip(*a, check_rc=True):
    p = subprocess.run([IP] + list(a), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=20)
    if check_rc and p.returncode != 0:
        raise TestFailure("ip %s: exit %d: %s" % (" ".join(a), p.returncode,
                                                  p.stderr.decode("utf-8", "replace").strip()))
    return p


def setup_network():
    ip("netns", "add", NS)
    state["ns"] = True
    ip("link", "add", HOST_IF, "type", "veth", "peer", "name", NS_IF)
    state["link"] = True
    ip("link", "set", NS_IF, "netns", NS)
    ip("addr", "add", HOST_ADDR + "/24", "dev", HOST_IF)
    ip("link", "set", HOST_IF, "up")
    ip("netns", "exec", NS, IP, "addr", "add", NS_ADDR + "/24", "dev", NS_IF)
    ip("netns", "exec", NS, IP, "link", "set", NS_IF, "up")
    ip("netns", "exec", NS, IP, "link", "set", "lo", "up")


def teardown_network():
    # Deleting one end of a veth pair deletes both; deleting the namespace
    # also destroys the end inside it. Both tolerate what is already gone.
    if state.get("link"):
        ip("link", "del", HOST_IF, check_rc=False)
    if state.get("ns"):
        ip("netns", "del", NS, check_rc=False)
    left = ip("netns", "list", check_rc=False).stdout.decode()
    if NS in left.split():
        log("WARNING: network namespace %s is still there" % NS)


def test_setup():
    setup_network()
    port = free_port()
    endpoint = "tcp://%s:%d" % (HOST_ADDR, port)
    d = Daemon(COORD, WORK, extra=["--fleet", endpoint, "--fleet-insecure",
                                   "--heartbeat-ms", str(HB_MS), "--no-local-workers"])
    d.start()
    state["daemon"] = d
    s = stats(d.url)
    eq((s["endpoint"], s["curve"]), (endpoint, False), "fleet endpoint, curve (--fleet-insecure)")
    state["endpoint"] = endpoint
    w = Worker(WORKER, WORK, endpoint, "inside", prefix=[IP, "netns", "exec", NS])
    workers["inside"] = w.start()
    wait_workers(d.url, ["inside"])


def test_cut_link_retry_outside():
    d = state["daemon"]
    sfn = client(d.url)
    sm = create_machine(sfn, "long-spin", spin_machine_def(6000, retry=[
        {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 1, "MaxAttempts": 2,
         "BackoffRate": 1.0}]))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    t = wait_placed(d.url, arn, with_progress=True)
    eq(t["worker"], "inside", "worker of the first attempt (the only one so far)")
    # Only now the outside worker: the first attempt is surely inside.
    workers["outside"] = Worker(WORKER, WORK, state["endpoint"], "outside").start()
    wait_workers(d.url, ["inside", "outside"])
    lost_before = stats(d.url)["lostWorkers"]
    eq(describe(d.url, arn)["statefleetTasks"][0].get("worker"), "inside",
       "the task is still on the namespaced worker")

    ip("link", "set", HOST_IF, "down")
    cut = time.monotonic()
    log("cut the link (%s down)" % HOST_IF)
    wait_for("'inside' gone from StatefleetGetStats",
             lambda: "inside" not in workers_by_id(d.url), timeout=15, poll=0.02)
    after = time.monotonic() - cut
    log("'inside' declared lost %.2fs after the cut (heartbeat %d ms x 3)" % (after, HB_MS))
    check(after <= 3.0, "the namespaced worker was declared lost %.2fs after the cut, want "
          "within ~3s (3 heartbeats of %d ms, with slack)" % (after, HB_MS))
    check(stats(d.url)["lostWorkers"] >= lost_before + 1, "lostWorkers: %r" % stats(d.url))
    check("worker 'inside' lost" in d.log_text(),
          "the coordinator's log does not say 'inside' was lost")

    def retried():
        x = describe(d.url, arn)
        if x["status"] != "RUNNING":
            return x
        for tk in x.get("statefleetTasks", []):
            if tk.get("attempt", 0) >= 1 and tk.get("worker"):
                return tk
        return None
    again = wait_for("the retry placed", retried, timeout=15)
    eq(again.get("worker"), "outside", "worker of the retry (%r)" % again)
    r = wait_done(sfn, arn, timeout=30)
    eq(r["status"], "SUCCEEDED", "execution after its worker's link was cut")
    h = raw_history(d.url, arn)
    fails = [e["taskFailedEventDetails"] for e in h if e["type"] == "TaskFailed"]
    eq(len(fails), 1, "TaskFailed events")
    eq(fails[0].get("error"), "States.TaskFailed", "TaskFailed error")
    check("worker 'inside' was lost" in (fails[0].get("cause") or ""),
          "TaskFailed cause %r does not name the worker 'inside'" % fails[0].get("cause"))
    eq([e["type"] for e in h].count("TaskStarted"), 2, "TaskStarted events")


try:
    run([
        ("namespace, veth and a coordinator on a private address", test_setup),
        ("cut link: worker lost, retry outside", test_cut_link_retry_outside),
    ])
except SystemExit:
    log(worker_logs())
    raise
finally:
    try:
        for w in workers.values():
            w.kill9()  # one inside a dead link cannot answer a SIGTERM's goodbye
        if "daemon" in state and state["daemon"].running():
            state["daemon"].stop()
    finally:
        teardown_network()
