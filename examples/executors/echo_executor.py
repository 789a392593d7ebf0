#!/usr/bin/env python3
"""A Planter subprocess executor in Python, standard library only: echoes its payload.

Protocol (Sources/ExecutorAPI/README.md, "Subprocess executors"): JSON lines on stdin/stdout,
handshake first; stdout carries only messages, stderr lines become host log lines.
Payload: {"message": text to print, "sleep": seconds (cancellable), "fail": reason}.
"""
import json
import sys
import threading

write_lock = threading.Lock()
cancels = {}  # request id -> threading.Event, set when the host cancels it
config = {}


def send(message):
    with write_lock:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()


def execute(rid, request):
    payload = request.get("payload") or {}
    if request.get("dryRun"):  # check the request, do nothing
        cancels.pop(rid, None)
        send({"type": "result", "id": rid, "result": {"status": "succeeded", "message": "dry run: would echo"}})
        return
    if "message" in payload:
        send({"type": "output", "id": rid, "stream": "stdout", "data": f"{payload['message']}\n"})
    send({"type": "log", "id": rid, "level": "info", "message": f"attempt {request.get('attempt')}"})
    if cancels[rid].wait(float(payload.get("sleep", 0))):
        result = {"status": "cancelled", "message": "cancelled by the host"}
    elif payload.get("fail"):
        result = {"status": "failed", "exitCode": 1, "message": str(payload["fail"])}
    else:
        outputs = {"echo": payload, "inputs": request.get("inputs", {}), "greeting": config.get("greeting", "hello")}
        result = {"status": "succeeded", "exitCode": 0, "message": "echoed", "outputs": outputs}
    cancels.pop(rid, None)
    send({"type": "result", "id": rid, "result": result})


send({"type": "handshake", "protocol": 1, "name": "echo", "version": "1.0.0", "concurrent": True})
print("echo executor started", file=sys.stderr, flush=True)
for line in sys.stdin:  # ends when the host closes stdin: it wants us gone
    message = json.loads(line)
    kind = message.get("type")
    if kind == "configure":
        config = message.get("config") or {}
        if isinstance(config.get("greeting", ""), str):
            send({"type": "configured"})
        else:
            send({"type": "error", "message": "config.greeting must be a string"})
    elif kind == "execute":
        cancels[message["id"]] = threading.Event()
        threading.Thread(target=execute, args=(message["id"], message["request"])).start()
    elif kind == "cancel" and message.get("id") in cancels:
        cancels[message["id"]].set()
for event in list(cancels.values()):  # stop what still runs; Python waits for its threads
    event.set()
