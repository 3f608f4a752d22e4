"""python3 naming itself by its (virtual) pid: os.setpriority, os.sched_getaffinity,
resource.prlimit and fcntl F_SETOWN act on this process, and /proc/<pid> is found by os.stat
(fstatat), os.access, os.chdir and coreutils' stat (statx) and find, /proc/self reads as the
virtual pid, and the listings of /proc and /proc/<pid>/task name it and its thread by their
virtual ids, before the snapshot and after the restore (with a new system pid)."""
import fcntl, os, resource, socket, subprocess, sys, threading, time


def check_proc(me):
    here = f"/proc/{me}"
    assert os.path.isdir(here), f"{here} is not found by os.stat"
    assert os.access(f"{here}/status", os.R_OK), f"os.access {here}/status"
    assert os.readlink("/proc/self") == str(me), f"/proc/self is {os.readlink('/proc/self')}"
    thread = f"{me}/task/{threading.get_native_id()}"
    assert os.readlink("/proc/thread-self") == thread, f"/proc/thread-self is not {thread}"
    for tool in (["stat", "-c", "%n", here], ["find", f"{here}/fd", "-maxdepth", "0"]):
        done = subprocess.run(tool, capture_output=True, text=True)
        assert done.returncode == 0, f"{tool[0]} {here}: {done.stderr.strip()}"
    assert str(me) in os.listdir("/proc"), f"{me} is not in the listing of /proc"
    tasks = os.listdir(f"{here}/task")
    assert str(threading.get_native_id()) in tasks, f"its thread is not in {here}/task: {tasks}"
    entry = [e for e in os.scandir("/proc") if e.name == str(me)]
    assert entry and entry[0].is_dir() and entry[0].stat(), "os.scandir /proc: its entry"
    proc = os.open("/proc", os.O_RDONLY)
    try:
        with open(os.open(f"{me}/stat", os.O_RDONLY, dir_fd=proc)) as stat:
            assert stat.read().split()[0] == str(me), f"{me}/stat relative to /proc"
        assert str(me) in os.listdir(proc), "os.listdir of a descriptor of /proc (fdopendir)"
    finally:
        os.close(proc)
    found = subprocess.run(["find", "/proc", "-maxdepth", "1", "-name", str(me)],
                           capture_output=True, text=True)
    # (other processes may end while find walks /proc: only its own line counts)
    assert found.stdout.strip() == here and str(me) not in found.stderr, f"find: {found.stderr}"
    before = os.getcwd()
    os.chdir(here)
    os.chdir(before)

def check(round):
    me = os.getpid()
    check_proc(me)
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
