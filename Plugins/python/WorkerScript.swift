/// The worker the plugin runs with `python3 -u -c <script> <maxOutputsBytes> <oneShot>`.
///
/// Channel: fd 3, a Unix stream socket to the plugin; one JSON object per line each way.
/// The worker's stdout and stderr stay what they are (pipes the plugin streams to the host),
/// so whatever user code prints, from Python or from a subprocess, cannot corrupt the channel.
///
/// Job (plugin → worker):
///   {"id":1,"kind":"code"|"file"|"module","phase":"p","code":..,"file":..,"module":..,
///    "function":..,"args":[..],"kwargs":{..},"env":{..},"workdir":..,"inputs":{..}}
/// Reply (worker → plugin), after stdout/stderr were flushed:
///   {"id":1,"status":"succeeded"|"failed","message":"..","exitCode":N,"outputs":{..}}
///
/// Standard library only; Python 3.8 or newer.
let pythonWorkerScript = #"""
import builtins, importlib, json, os, sys, traceback

CHANNEL = 3
MAX_OUTPUTS = int(sys.argv[1])
ONE_SHOT = sys.argv[2] == "1"
os.set_inheritable(CHANNEL, False)
# Nothing user code does with stdin may reach the plugin.
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)

_dumps = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_loads = json.loads
_code_cache = {}
_base_cwd = os.getcwd()
_base_path = list(sys.path)
_base_argv = list(sys.argv)
_stdout, _stderr = sys.stdout, sys.stderr
_WORKER_FILE = sys._getframe().f_code.co_filename


def _send(obj_text):
    data = obj_text.encode("utf-8") + b"\n"
    view = memoryview(data)
    while view:
        n = os.write(CHANNEL, view)
        view = view[n:]


def _compiled(source, name):
    key = (source, name)
    code = _code_cache.get(key)
    if code is None:
        code = compile(source, name, "exec")
        if len(_code_cache) >= 256:
            _code_cache.clear()
        _code_cache[key] = code
    return code


def _outputs(value):
    if value is None:
        return "{}", None
    if not isinstance(value, dict):
        value = {"result": value}
    try:
        text = _dumps(value)
    except (TypeError, ValueError) as error:
        return None, "outputs are not JSON-serializable: %s" % error
    size = len(text.encode("utf-8"))
    if size > MAX_OUTPUTS:
        return None, "outputs are %d bytes, more than maxOutputsBytes (%d)" % (size, MAX_OUTPUTS)
    return text, None


def _run(job, scope):
    kind = job["kind"]
    phase = job.get("phase", "phase")
    if kind == "code":
        exec(_compiled(job["code"], "<phase %s>" % phase), scope)
        return scope.get("result")
    if kind == "file":
        path = job["file"]
        with open(path, "rb") as handle:
            source = handle.read()
        scope["__file__"] = path
        sys.argv = [path]
        exec(compile(source, path, "exec"), scope)
        return scope.get("result")
    target = importlib.import_module(job["module"])
    for part in job["function"].split("."):
        target = getattr(target, part)
    kwargs = job.get("kwargs") or {}
    # A function that names an `inputs` parameter gets the inputs there.
    code = getattr(target, "__code__", None)
    if code is not None and "inputs" not in kwargs and \
            "inputs" in code.co_varnames[:code.co_argcount + code.co_kwonlyargcount]:
        kwargs["inputs"] = scope["inputs"]
    return target(*(job.get("args") or []), **kwargs)


def _handle(job):
    saved_env = {}
    for name, value in (job.get("env") or {}).items():
        saved_env[name] = os.environ.get(name)
        os.environ[name] = value
    status, message, code, text = "succeeded", "ok", None, "{}"
    try:
        workdir = job.get("workdir")
        if workdir:
            try:
                os.chdir(workdir)
            except OSError as error:
                return '{"id":%d,"status":"failed","exitCode":127,"message":%s,"outputs":{}}' % (
                    job["id"], _dumps("cannot change to workdir %s: %s" % (workdir, error.strerror)))
        scope = {"__name__": "__main__", "__builtins__": builtins, "inputs": job.get("inputs", {})}
        try:
            value = _run(job, scope)
            text, problem = _outputs(value)
            if problem:
                status, message, text = "failed", problem, "{}"
        except SystemExit as stop:
            code = stop.code
            if code is None or code == 0:
                code = 0
                if job["kind"] != "module":
                    text, problem = _outputs(scope.get("result"))
                    if problem:
                        status, message, text = "failed", problem, "{}"
            else:
                if not isinstance(code, int):
                    print(code, file=sys.stderr)
                    code = 1
                status, message = "failed", "SystemExit(%d)" % code
        except BaseException as error:
            kind, _, tb = sys.exc_info()
            # Leave out this worker's own frames (its code is "<string>", from -c).
            while tb is not None and tb.tb_frame.f_code.co_filename == _WORKER_FILE:
                tb = tb.tb_next
            lines = traceback.format_exception(kind, error, tb)
            sys.stderr.write("".join(lines))
            status, message = "failed", lines[-1].strip() if lines else repr(error)
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            pass
        sys.stdout, sys.stderr = _stdout, _stderr
        sys.argv = list(_base_argv)
        sys.path[:] = _base_path
        if os.getcwd() != _base_cwd:
            os.chdir(_base_cwd)
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    head = '{"id":%d,"status":"%s","message":%s' % (job["id"], status, _dumps(message))
    if code is not None:
        head += ',"exitCode":%d' % code
    return head + ',"outputs":' + text + "}"


def _main():
    pending = bytearray()
    while True:
        end = pending.find(b"\n")
        while end < 0:
            chunk = os.read(CHANNEL, 1 << 20)
            if not chunk:
                os._exit(0)
            pending += chunk
            end = pending.find(b"\n")
        line = bytes(pending[:end])
        del pending[:end + 1]
        job = _loads(line)
        _send(_handle(job))
        if ONE_SHOT:
            os._exit(0)


_main()
"""#
