"""python3 naming itself by its (virtual) pid: os.setpriority, os.sched_getaffinity,
resource.prlimit and fcntl F_SETOWN act on this process, before the snapshot and after the
restore (with a new system pid)."""
import fcntl, os, resource, socket, sys, time

def check(round):
    me = os.getpid()
    os.setpriority(os.PRIO_PROCESS, me, 3 + round)
    assert os.getpriority(os.PRIO_PROCESS, 0) == 3 + round, "setpriority missed"
    assert os.getpriority(os.PRIO_PROCESS, me) == 3 + round, "getpriority(me)"
    assert os.sched_getaffinity(me) == os.sched_getaffinity(0), "sched_getaffinity(me)"
    soft, hard = resource.prlimit(me, resource.RLIMIT_NOFILE)
    resource.prlimit(me, resource.RLIMIT_NOFILE, (soft - 1, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE) == (soft - 1, hard), "prlimit missed"
    with socket.socket() as s:
        fcntl.fcntl(s, fcntl.F_SETOWN, me)
        assert fcntl.fcntl(s, fcntl.F_GETOWN) == me, "F_GETOWN"
    try:
        os.getpriority(os.PRIO_PROCESS, 1)  # a system pid names no process of the application
        raise AssertionError("pid 1 reached the system's process")
    except ProcessLookupError:
        pass

try:
    check(0)
    print("ready", flush=True)
    while not os.path.exists(os.path.join(sys.argv[1], "go")):
        time.sleep(0.01)
    check(1)
    print("PASS", flush=True)
except Exception as e:
    print(f"FAIL: {e!r}", flush=True)
