"""Keep-alive clients that reuse a pooled connection without checking it,
as Python's http.client does: N threads, each on one connection, `GET /`
with a think time of 0-200 ms between requests, and no retries.

    python3 keepalive_clients.py HOST PORT CLIENTS

Prints `{"event": "started"}` once every client has had 3 answers, then
runs until each client finds the server gone (a refused connect) or 30 s
have passed, and prints `{"event": "done", ...}`: answered, lost (a request
that was sent and got no answer, each with its error), refused, and the
count of clients that lost one.
"""

import http.client
import json
import random
import sys
import threading
import time

RUN_FOR = 30.0


def client(host, port, index, tally, lock, warm):
    rng = random.Random(index)
    connection = None
    answered = 0
    until = time.monotonic() + RUN_FOR
    while time.monotonic() < until:
        time.sleep(rng.uniform(0.0, 0.2))
        if connection is None:
            connection = http.client.HTTPConnection(host, port, timeout=10)
            try:
                connection.connect()
            except ConnectionRefusedError:
                with lock:
                    tally["refused"] += 1
                return
        try:
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            answered += 1
            with lock:
                tally["answered"] += 1
            if answered == 3:
                warm.release()
            if response.getheader("connection", "").lower() == "close":
                connection.close()
                connection = None
        except (OSError, http.client.HTTPException) as error:
            with lock:
                tally["lost"].append(f"client {index}: {type(error).__name__}: {error}")
            connection.close()
            connection = None


def main():
    host, port, clients = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    tally = {"answered": 0, "lost": [], "refused": 0}
    lock = threading.Lock()
    warm = threading.Semaphore(0)
    threads = [
        threading.Thread(target=client, args=(host, port, index, tally, lock, warm))
        for index in range(clients)
    ]
    for thread in threads:
        thread.start()
    for _ in range(clients):
        warm.acquire()
    print(json.dumps({"event": "started"}), flush=True)
    for thread in threads:
        thread.join()
    losers = sorted({line.split(":")[0] for line in tally["lost"]})
    tally["clients_that_lost"] = len(losers)
    tally["event"] = "done"
    print(json.dumps(tally), flush=True)


if __name__ == "__main__":
    main()
