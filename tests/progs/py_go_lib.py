"""A Go library loaded with ctypes, as Python programs use one: its runtime's raw system calls
come from a shared library's code, and must see python3's virtual pid, at start, after a first
restore (once DIR/again exists: "restored once") and after a second (once DIR/go exists).

    python3 py_go_lib.py LIBGOPID DIR"""
import ctypes
import os
import sys
import time

lib = ctypes.CDLL(sys.argv[1])
directory = sys.argv[2]


def check(when):
    answer = lib.Check(os.getpid())
    if answer != 0:
        print(f"FAIL: {when}: check {answer}, Go's pid {lib.GoPid()}, python's {os.getpid()}", flush=True)
        sys.exit(1)


def wait_for(name):
    while not os.path.exists(os.path.join(directory, name)):
        time.sleep(0.01)


check("at start")
print("ready", flush=True)
wait_for("again")
check("after the first restore")
print("restored once", flush=True)
wait_for("go")
check("after the second restore")
print("PASS", flush=True)
