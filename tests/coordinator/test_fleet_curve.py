"""tests/coordinator/test_fleet_curve.py - the fleet socket under CURVE: keys
made by `statefleet keys new`; a coordinator on a fixed loopback port with
its secret key and a directory holding only worker A's public key; worker A
joins and runs a task, worker B (a key not in the directory) and a worker
with no keys never join and the coordinator logs each refusal; a
coordinator asked to listen on every address without keys refuses to
start, and so does one (or a worker) given a secret key file others can
read.

usage: /usr/bin/python3 test_fleet_curve.py COORDINATOR STATEFLEET SRCDIR
"""
import os
import re
import shutil
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coordlib import (_DIE_WITH_PARENT, Daemon, TestFailure, args, check, client,  # noqa: E402
                      create_machine, eq, log, run, tempdir, wait_done)
from fleetlib import (Worker, free_port, spin_machine_def, stats, wait_for,  # noqa: E402
                      wait_placed, wait_workers, worker_binary, worker_logs, workers_by_id)

COORD, CLI, _SRC = args()
WORKER = worker_binary(COORD)
WORK = tempdir("curve")
KEYS = os.path.join(WORK, "keys")
AUTH = os.path.join(WORK, "authorised")
os.makedirs(KEYS)
os.makedirs(AUTH)

state = {}
workers = []


def keys_new(path):
    """`statefleet keys new PATH`; checks both files and their modes."""
    p = subprocess.run([CLI, "keys", "new", path], stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    eq(p.returncode, 0, "statefleet keys new %s exit status (output: %s)" % (path, out.strip()))
    check(os.path.isfile(path) and os.path.isfile(path + "_secret"),
          "keys new %s did not write %s and %s_secret" % (path, path, path))
    eq(stat.S_IMODE(os.stat(path + "_secret").st_mode), 0o600, "mode of %s_secret" % path)
    return path


def public_key_text(path):
    """The Z85 public key a zcert public file holds (public-key = "...")."""
    with open(path) as f:
        m = re.search(r'public-key\s*=\s*"([^"]{40})"', f.read())
    check(m, "no public-key in %s" % path)
    return m.group(1)


def refused_to_start(argv, what, timeout=20):
    """Runs argv, which must exit non-zero before timeout; returns its stderr."""
    p = subprocess.Popen(_DIE_WITH_PARENT + argv, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=WORK)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise TestFailure("%s: still running after %ss, want a refusal to start; stderr:\n%s"
                          % (what, timeout, err.decode("utf-8", "replace")))
    text = err.decode("utf-8", "replace") + out.decode("utf-8", "replace")
    check(p.returncode != 0, "%s: exit status 0, want a refusal; output:\n%s" % (what, text))
    return p.returncode, text


def test_keys():
    for name in ("coord", "worker-a", "worker-b"):
        state[name] = keys_new(os.path.join(KEYS, name))
    # It never overwrites.
    p = subprocess.run([CLI, "keys", "new", state["coord"]], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    check(p.returncode != 0, "keys new over an existing key pair succeeded")
    keys = {public_key_text(state[n]) for n in ("coord", "worker-a", "worker-b")}
    eq(len(keys), 3, "distinct public keys")
    shutil.copy(state["worker-a"], os.path.join(AUTH, "worker-a.key"))


def test_coordinator_with_keys():
    port = free_port()
    d = Daemon(COORD, WORK, extra=["--no-local-workers", "--heartbeat-ms", "200",
                                   "--fleet", "tcp://127.0.0.1:%d" % port,
                                   "--fleet-key", state["coord"] + "_secret",
                                   "--fleet-authorised", AUTH])
    d.start()
    state["daemon"] = d
    s = stats(d.url)
    eq((s["endpoint"], s["curve"]), ("tcp://127.0.0.1:%d" % port, True), "fleet endpoint, curve")
    state["endpoint"] = s["endpoint"]


def test_authorised_worker_runs():
    d = state["daemon"]
    a = Worker(WORKER, WORK, state["endpoint"], "worker-a",
               extra=["--key", state["worker-a"] + "_secret", "--server-key", state["coord"]])
    workers.append(a.start())
    wait_workers(d.url, ["worker-a"])
    sfn = client(d.url)
    sm = create_machine(sfn, "curve-spin", spin_machine_def(1500))
    arn = sfn.start_execution(stateMachineArn=sm, input="{}")["executionArn"]
    eq(wait_placed(d.url, arn)["worker"], "worker-a", "worker of the task")
    r = wait_done(sfn, arn, timeout=20)
    eq(r["status"], "SUCCEEDED", "task on the CURVE worker")


def test_unauthorised_worker_refused():
    d = state["daemon"]
    b = Worker(WORKER, WORK, state["endpoint"], "worker-b",
               extra=["--key", state["worker-b"] + "_secret", "--server-key", state["coord"]])
    workers.append(b.start())
    b_key = public_key_text(state["worker-b"])
    line = re.compile(r"refused a worker at 127\.0\.0\.1: its CURVE key " + re.escape(b_key) +
                      r" is not authorised")
    try:
        wait_for("worker-b's refusal in the coordinator's log",
                 lambda: line.search(d.log_text()), timeout=10)
    except TestFailure as e:
        raise TestFailure("%s; log:\n%s" % (e, d.log_tail(20)))
    # Give it time to try again: it must never appear.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        check("worker-b" not in workers_by_id(d.url),
              "the unauthorised worker joined: %s" % sorted(workers_by_id(d.url)))
        time.sleep(0.2)
    eq(sorted(workers_by_id(d.url)), ["worker-a"], "workers registered")
    check(b.running(), "the refused worker exited (it should keep trying)")
    b.stop(5)


def test_keyless_worker_refused():
    """A worker without keys at a CURVE endpoint never joins, and the
    coordinator says so: sf_curve.c promises that "a refused worker must be
    logged in one line with its address and the reason"."""
    d = state["daemon"]
    plain = Worker(WORKER, WORK, state["endpoint"], "worker-plain")
    workers.append(plain.start())
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        check("worker-plain" not in workers_by_id(d.url),
              "the keyless worker joined: %s" % sorted(workers_by_id(d.url)))
        time.sleep(0.2)
    b_key = public_key_text(state["worker-b"])

    def other_refusals():
        return [ln for ln in d.log_text().splitlines()
                if (re.search(r"refused a (peer|worker) at 127\.0\.0\.1", ln)
                    or re.search(r"refused a connection on tcp://127\.0\.0\.1:\d+: (the peer "
                                 r"offered no CURVE keys|its CURVE handshake failed)", ln))
                and b_key not in ln]
    try:
        wait_for("a refusal of the keyless worker in the coordinator's log", other_refusals,
                 timeout=6)
    except TestFailure as e:
        raise TestFailure("%s; coordinator log:\n%s\nworker log:\n%s"
                          % (e, d.log_tail(8), plain.log_tail(5)))
    finally:
        plain.stop(5)


def test_everywhere_needs_keys():
    db = os.path.join(WORK, "open.db")
    rc, text = refused_to_start(
        [COORD, "--db", db, "--http", "127.0.0.1:0", "--no-local-workers",
         "--fleet", "tcp://0.0.0.0:%d" % free_port()], "coordinator on 0.0.0.0 without keys")
    check("--fleet-key" in text, "the refusal does not name --fleet-key:\n%s" % text)
    eq(rc, 1, "exit status of a coordinator that cannot start")


def test_readable_secret_refused():
    bad = os.path.join(WORK, "leaky_secret")
    shutil.copy(state["coord"] + "_secret", bad)
    os.chmod(bad, 0o644)
    rc, text = refused_to_start(
        [COORD, "--db", os.path.join(WORK, "leaky.db"), "--http", "127.0.0.1:0",
         "--no-local-workers", "--fleet", "tcp://127.0.0.1:%d" % free_port(),
         "--fleet-key", bad, "--fleet-authorised", AUTH], "coordinator with a 0644 secret key")
    check(bad in text, "the refusal does not name %s:\n%s" % (bad, text))
    # A worker refuses its own readable secret key too.
    wbad = os.path.join(WORK, "leaky_worker_secret")
    shutil.copy(state["worker-a"] + "_secret", wbad)
    os.chmod(wbad, 0o644)
    rc, text = refused_to_start(
        [WORKER, "--coordinator", state["endpoint"], "--id", "leaky",
         "--key", wbad, "--server-key", state["coord"]], "worker with a 0644 secret key")
    check(wbad in text, "the worker's refusal does not name %s:\n%s" % (wbad, text))
    check("leaky" not in workers_by_id(state["daemon"].url), "the leaky worker joined")


try:
    run([
        ("statefleet keys new", test_keys),
        ("coordinator with CURVE keys", test_coordinator_with_keys),
        ("authorised worker joins and runs a task", test_authorised_worker_runs),
        ("an unauthorised worker is refused", test_unauthorised_worker_refused),
        ("a worker without keys is refused, with a log line", test_keyless_worker_refused),
        ("listening everywhere needs keys", test_everywhere_needs_keys),
        ("a readable secret key is refused", test_readable_secret_refused),
    ])
except SystemExit:
    log(worker_logs())
    raise
finally:
    for w in workers:
        w.stop(5)
    if "daemon" in state and state["daemon"].running():
        state["daemon"].stop()
