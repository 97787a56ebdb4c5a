"""What every loopback test server in scripts/test/ shares: it never outlives the test that started it."""
import os
import threading
import time


def exit_with_parent(lifetime):
    """Exits the process when its parent goes away (a test that ends or dies, or a launcher shim such as pyenv's
    between it and the test) and after `lifetime` seconds in any case."""
    parent = os.getppid()
    started = time.monotonic()

    def watch():
        while os.getppid() == parent and time.monotonic() - started < lifetime:
            time.sleep(0.05)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()
