"""A child subreaper, as an init (tini -s, dumb-init) is: says "ready"; on DIR/go checks that it
still is one, and that the orphan of a child it forks then comes to it to be reaped: PASS or
FAIL."""
import ctypes, os, sys, time

PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
libc = ctypes.CDLL(None, use_errno=True)
libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
print("ready", flush=True)
while not os.path.exists(os.path.join(sys.argv[1], "go")):
    time.sleep(0.02)
flag = ctypes.c_int()
libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(flag), 0, 0, 0)
if os.fork() == 0:
    if os.fork() == 0:  # orphaned at once: to the nearest subreaper
        time.sleep(0.2)
        os._exit(7)
    os._exit(0)
os.wait()
try:
    _, status = os.wait()
    orphan = os.waitstatus_to_exitcode(status) == 7
except ChildProcessError:
    orphan = False
print("PASS" if flag.value == 1 and orphan else f"FAIL: subreaper {flag.value}, orphan reaped {orphan}", flush=True)
