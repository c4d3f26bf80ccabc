"""One handler module with every misbehaviour of the bad-input corpus, chosen by ``event["case"]``."""

SOURCE = r'''
import ctypes, json, os, signal, subprocess, sys, tempfile, threading, time

def _recurse(n):
    return _recurse(n + 1) + 1

class Weird(Exception):
    pass

def handler(event, context):
    case = event.get("case", "ok")
    if case == "ok":
        return {"ok": True, "cwd": os.getcwd()}
    if case == "raise_non_string":
        raise Weird({"nested": [1, 2]}, 42)
    if case == "infinite_loop":
        while True:
            pass
    if case == "sleep_forever":
        time.sleep(3600)
    if case == "memory_hog":
        hog = []
        while True:
            hog.append(bytearray(16 * 1024 * 1024))
    if case == "recursion":
        return _recurse(0)
    if case == "fork_storm":
        pids = []
        try:
            while True:
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                pids.append(pid)
        except OSError as exc:
            return {"forked": len(pids), "stopped_by": type(exc).__name__}
    if case == "sys_exit_0":
        sys.exit(0)
    if case == "sys_exit_3":
        sys.exit(3)
    if case == "os_exit":
        os._exit(7)
    if case == "segfault":
        ctypes.string_at(0)
    if case == "abort":
        os.abort()
    if case == "close_stdio":
        sys.stdout.close()
        sys.stderr.close()
        return "closed"
    if case == "close_stdio_fds":
        os.close(1)
        os.close(2)
        return "closed fds"
    if case == "print_flood":
        line = "x" * 1023 + "\n"
        for _ in range(event.get("mb", 100) * 1024):
            sys.stdout.write(line)
        return "printed"
    if case == "non_json":
        return {1, 2, 3}
    if case == "nan":
        return float("nan")
    if case == "big_response":
        return "x" * (7 * 1024 * 1024)
    if case == "ignore_sigterm":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(3600)
    if case == "leave_child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
        return {"child": child.pid}
    if case == "leave_thread":
        threading.Thread(target=lambda: time.sleep(3600), daemon=False).start()
        return "thread left"
    if case == "leave_setsid_child":
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"], start_new_session=True)
        return {"child": child.pid}
    if case == "fill_tmp":
        path = os.path.join(tempfile.gettempdir(), "fill.bin")
        with open(path, "wb") as f:
            f.write(b"\0" * (event.get("mb", 8) * 1024 * 1024))
        return os.path.getsize(path)
    if case == "chdir_and_environ":
        os.chdir("/")
        os.environ["AWS_LAMBDA_FUNCTION_NAME"] = "changed"
        os.environ.pop("_HANDLER", None)
        return "changed"
    if case == "echo":
        return event["value"]
    if case == "bytes_result":
        return bytes(range(256))
    if case == "unicode_print":
        print("héllo wörld ✓ 日本語 \U0001F600")
        return "printed unicode"
    if case == "invalid_utf8_print":
        sys.stdout.buffer.write(b"\xff\xfe bad utf-8 \xc3\n")
        return "printed bytes"
    if case == "wrong_context_use":
        return context.no_such_attribute
    if case == "return_generator":
        return (i for i in range(3))
    if case == "huge_exception_message":
        raise ValueError("m" * 200_000)
    if case == "keyboard_interrupt":
        raise KeyboardInterrupt()
    if case == "exception_in_str":
        class Bad(Exception):
            def __str__(self):
                raise RuntimeError("str failed")
        raise Bad()
    raise ValueError("unknown case " + case)
'''
