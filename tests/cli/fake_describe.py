"""tests/cli/fake_describe.py SCRIPT PORT_FILE - a stand-in coordinator that
answers DescribeExecution from a script, for test_watch.sh.

SCRIPT is a JSON object mapping execution ARNs to lists of steps; the n-th
DescribeExecution of an ARN gets its n-th step, and the last step repeats.
A step is the answer's body (executionArn, name and startDate are filled in
when absent) or {"_http": STATUS, "_body": TEXT} for an answer that is not
one. An ARN the script does not name gets AWS's ExecutionDoesNotExist, any
other operation UnknownOperationException. Listens on 127.0.0.1, port 0, and
writes the port to PORT_FILE once it listens. Standard library only.
"""
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

START = 1764000000.0

script_path, port_file = sys.argv[1:3]
with open(script_path) as f:
    SCRIPT = json.load(f)
calls = {}
lock = threading.Lock()


def aws_error(name, message):
    return 400, json.dumps({"__type": "com.amazonaws.swf.service.v2.model#" + name,
                            "message": message})


def describe(body):
    arn = body.get("executionArn")
    if arn not in SCRIPT:
        return aws_error("ExecutionDoesNotExist", "Execution Does Not Exist: '%s'" % arn)
    with lock:
        n = calls.get(arn, 0)
        calls[arn] = n + 1
    steps = SCRIPT[arn]
    step = dict(steps[min(n, len(steps) - 1)])
    if "_http" in step:
        return step["_http"], step.get("_body", "")
    step.setdefault("executionArn", arn)
    step.setdefault("name", arn.rsplit(":", 1)[-1])
    step.setdefault("startDate", START)
    return 200, json.dumps(step)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        target = self.headers.get("X-Amz-Target", "")
        if target != "AWSStepFunctions.DescribeExecution":
            status, text = aws_error("UnknownOperationException", "not faked: " + target)
        else:
            try:
                status, text = describe(json.loads(raw or b"{}"))
            except ValueError:
                status, text = aws_error("SerializationException", "not JSON")
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
# Renamed into place, so the test never reads half a number.
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
