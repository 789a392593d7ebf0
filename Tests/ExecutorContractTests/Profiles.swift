import ExecutorContract
import PlanterJSON
import PlanterTestSupport

/// The contract profiles of the built-in executors: JSON, exactly as an author would write the
/// file for `planter plugins check --profile`. Long cases run 300 s unless stopped.
enum Profiles {
    static let shell = #"""
        {"badConfig": {"config": {"shell": "bash"}, "message": "config.shell"},
         "badPayload": {"payload": {}, "message": "payload needs script"},
         "stream": {"payload": {"script": "echo hello from shell; sleep 0.1; echo done"}, "expect": "hello from shell"},
         "long": {"payload": {"script": "echo started; sleep 300"}, "expect": "started"},
         "outputs": {"payload": {"script": "echo '{\"built\": \"yes\"}' > \"$PLANTER_OUTPUTS\""}, "expect": {"built": "yes"}},
         "oversizedOutputs": {"config": {"maxOutputsBytes": 100},
                              "payload": {"script": "printf '{\"a\":\"%0500d\"}' 0 > \"$PLANTER_OUTPUTS\""},
                              "message": "outputs too large"}}
        """#

    static let python = #"""
        {"badConfig": {"config": {"pool": -1}, "message": "config.pool"},
         "badPayload": {"payload": {}, "message": "payload needs code"},
         "stream": {"payload": {"code": "print('hello from python')"}, "expect": "hello from python"},
         "long": {"payload": {"code": "import time\nprint('started', flush=True)\ntime.sleep(300)"}, "expect": "started"},
         "outputs": {"payload": {"code": "result = {'sum': 40 + 2}"}, "expect": {"sum": 42}},
         "oversizedOutputs": {"config": {"maxOutputsBytes": 1000}, "payload": {"code": "result = {'blob': 'x' * 5000}"},
                              "message": "maxOutputsBytes"}}
        """#

    static let native = #"""
        {"badConfig": {"config": {"libraries": "libm.so.6"}, "message": "config.libraries"},
         "badPayload": {"payload": {}, "message": "payload needs library"},
         "stream": {"payload": {"library": "libm.so.6", "symbol": "cos", "args": [{"type": "double", "value": 0.0}],
                                "returns": "double"},
                    "expect": "cos(0.0) -> double = 1"},
         "outputs": {"payload": {"library": "libm.so.6", "symbol": "cos", "args": [{"type": "double", "value": 0.0}],
                                 "returns": "double"},
                     "expect": {"return": 1.0}},
         "skip": {"cancel-during": "a native call cannot be interrupted once started (Plugins/native/README.md)",
                  "time-limit": "a native call cannot be interrupted once started (Plugins/native/README.md)"}}
        """#

    static let cEcho = #"""
        {"badConfig": {"config": {"fail": true}, "message": "configured to fail"},
         "stream": {"description": "hello from c-echo", "expect": "hello from c-echo"},
         "outputs": {"payload": {"k": [1, "two"]}, "expect": {"echo": {"k": [1, "two"]}}}}
        """#

    static let swiftHello = #"""
        {"badPayload": {"payload": {}, "message": "payload.name must be a string"},
         "stream": {"payload": {"name": "contract"}, "expect": "Hello, contract!"},
         "outputs": {"payload": {"name": "contract"}, "expect": {"greeting": "Hello, contract!"}}}
        """#

    static let echo = #"""
        {"config": {"greeting": "hi"},
         "badConfig": {"config": {"greeting": 5}, "message": "config.greeting must be a string"},
         "stream": {"payload": {"message": "hello from echo"}, "expect": "hello from echo"},
         "long": {"payload": {"message": "started", "sleep": 300}, "expect": "started"},
         "outputs": {"payload": {"message": "x"}, "expect": {"greeting": "hi", "echo": {"message": "x"}}}}
        """#

    /// runc over a busybox rootfs (the container tests' environment); every config names it.
    @Sendable static func container() throws -> Subject.Prepared {
        let env = try ContainerEnvironment.fresh().get()
        let config = env.config().serialized
        let small = env.config(["maxOutputsBytes": 100]).serialized
        let bad = env.config(["runtime": "lxc"]).serialized
        return Subject.Prepared(target: .plugin(path: try Subject.pluginPath("container")), profile: #"""
            {"config": \#(config),
             "badConfig": {"config": \#(bad), "message": "config.runtime"},
             "badPayload": {"payload": {}, "message": "payload needs script"},
             "stream": {"payload": {"script": "echo hello from a container"}, "expect": "hello from a container"},
             "long": {"payload": {"script": "echo started; sleep 300"}, "expect": "started"},
             "outputs": {"payload": {"script": "echo '{\"built\": \"yes\"}' > \"$PLANTER_OUTPUTS\""}, "expect": {"built": "yes"}},
             "oversizedOutputs": {"config": \#(small),
                                  "payload": {"script": "printf '{\"a\":\"%0500d\"}' 0 > \"$PLANTER_OUTPUTS\""},
                                  "message": "outputs too large"}}
            """#)
    }

    /// A local HTTP server (the http tests' own); stopped by the cleanup.
    @Sendable static func http() throws -> Subject.Prepared {
        let server = try TestHTTPServer()
        func url(_ path: String) -> String { JSON.string(server.url(path)).serialized }
        return Subject.Prepared(target: .plugin(path: try Subject.pluginPath("http")), profile: #"""
            {"badConfig": {"config": {"maxBodyBytes": 0}, "message": "config.maxBodyBytes"},
             "badPayload": {"payload": {"url": 5}, "message": "payload.url must be a string"},
             "stream": {"payload": {"url": \#(url("/json"))}, "expect": "-> 200 OK"},
             "long": {"payload": {"url": \#(url("/slow?ms=300000"))}},
             "outputs": {"payload": {"url": \#(url("/json"))}, "expect": {"status": 200, "body": {"hello": "world", "n": 3, "list": [1, 2]}}},
             "oversizedOutputs": {"config": {"maxBodyBytes": 1000}, "payload": {"url": \#(url("/big?n=5000"))},
                                  "message": "maxBodyBytes"}}
            """#, cleanUp: { server.stop() })
    }
}
