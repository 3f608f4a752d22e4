"""The round of py_socket_options.py and py_datagram_options.py: each option set, read back,
"ready" said, DIR/go waited for, and the options read again; what changed, one line each."""
import os
import time


def options_round(directory, options, read, before_ready=lambda: None):
    for s, level, name, value in options:
        s.setsockopt(level, name, value)
    before = [read(*option) for option in options]
    before_ready()
    print("ready", flush=True)
    while not os.path.exists(os.path.join(directory, "go")):
        time.sleep(0.02)
    after = [read(*option) for option in options]
    return [f"option {name} (level {level}): {b!r} became {a!r}"
            for (_, level, name, _), b, a in zip(options, before, after) if a != b]
