"""A network path with latency, in user space: every IP packet that one TUN
device hands up is written to the other one `delay` later, in order, each
way. This kernel has no netem; a delay line keeps TCP's own timing (a FIN
or a reset arrives `delay` after it was sent, as across a real network),
which a proxy would not.

    python3 delay_line.py TUN_A TUN_B DELAY_MS

Creates both TUN devices (the caller moves one into another network
namespace and gives both addresses), prints `ready`, and forwards until its
stdin closes: the test that started it holds the pipe, so the delay line
ends with the test, also when the test fails.
"""

import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def open_tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    a_name, b_name, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    delay = delay_ms / 1000.0
    a, b = open_tun(a_name), open_tun(b_name)
    other = {a: b, b: a}
    # Packets waiting to be written to each device: (when, packet), in the
    # order they arrived, so each direction keeps its order.
    waiting = {a: collections.deque(), b: collections.deque()}
    stdin = sys.stdin.fileno()
    print("ready", flush=True)
    while True:
        now = time.monotonic()
        due = [queue[0][0] for queue in waiting.values() if queue]
        timeout = max(0.0, min(due) - now) if due else None
        readable, _, _ = select.select([a, b, stdin], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            if fd == stdin:
                if not os.read(stdin, 4096):
                    return
                continue
            while True:
                try:
                    packet = os.read(fd, 65536)
                except BlockingIOError:
                    break
                waiting[other[fd]].append((now + delay, packet))
        now = time.monotonic()
        for fd, queue in waiting.items():
            while queue and queue[0][0] <= now:
                _, packet = queue.popleft()
                try:
                    os.write(fd, packet)
                except OSError:
                    # The device is down (the test is tearing it down), or
                    # its queue is full: dropped, as a real link would.
                    pass


if __name__ == "__main__":
    main()
