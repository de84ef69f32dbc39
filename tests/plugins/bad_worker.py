"""A stand-in worker that breaks the protocol as ``BAD_WORKER`` says: every case it gets
fails, and the runner must carry on with the next one."""

from __future__ import annotations

import json
import os
import sys

job = json.loads(sys.stdin.readline())
mode = os.environ["BAD_WORKER"]
print(json.dumps({"event": "hello", "pid": os.getpid()}), flush=True)
spec = json.loads(sys.stdin.readline())
case_id = f"{spec['workload']}/{spec['implementation']}[n=100]"
print(json.dumps({"event": "start", "case": case_id}), flush=True)
if mode == "garbage":
    print("{not json", flush=True)
elif mode == "stranger":
    print(json.dumps({"event": "result", "case": "who/is:this[n=1]", "status": "ok"}), flush=True)
elif mode == "nan":
    run = {"process": 0, "loops": 1, "samples": [1e-3, float("nan")], "stop": "budget"}
    print(json.dumps({"event": "result", "case": case_id, "status": "ok", "run": run}), flush=True)
elif mode == "shape":
    print(json.dumps({"event": "result", "case": case_id, "status": "great"}), flush=True)
elif mode == "bad_turn":  # ready to sample in turns, then a reply that says nothing
    print(json.dumps({"event": "ready", "case": case_id}), flush=True)
    sys.stdin.readline()
    print(json.dumps({"event": "sampled", "case": case_id, "done": "maybe"}), flush=True)
elif mode == "one_then_exit":  # a good report, then it ends while idle
    result = {"event": "result", "case": case_id, "status": "skipped", "reason": "fine"}
    print(json.dumps(result), flush=True)
    sys.exit(0)
sys.stdin.read()  # stays until the runner lets go, as a real worker would
