"""gRPC clients of Python's grpcio (gRPC's C core), for the tests in
tests/grpc_python.rs: a client nobody here wrote, against the Worker service
of examples/grpc.rs and its grpc.health.v1 service.

Every command prints one JSON object a line, with an "event" field, so the
test can read what happened and when (it timestamps lines as they arrive).
The Worker messages are encoded by hand (a few varint fields), so no
generated code is needed: see examples/grpc/worker.rs for their shape.

    watch ADDR [SERVICE]            health Watch until the stream ends
    check ADDR EVERY_MS SECONDS     health Check every EVERY_MS, on one channel
    ticks ADDR EVERY_MS IGNORE      a Ticks stream until it ends (IGNORE: 0 or 1)
    load TARGETS STOP_FILE CALLERS  unary calls and Ticks streams over
                                    round_robin until STOP_FILE exists
"""

import json
import os
import sys
import threading
import time

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

WORKER = "graceful.worker.Worker"
SHUTTING_DOWN = "server is shutting down"


def say(event, **fields):
    fields["event"] = event
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def varint(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def message(*fields):
    """A protobuf message of varint fields, numbered from 1."""
    out = bytearray()
    for number, value in enumerate(fields, start=1):
        if value:
            out += varint(number << 3) + varint(int(value))
    return bytes(out)


def first_varint(data):
    """Field 1 of a message of varint fields (0 when absent)."""
    index = 0
    while index < len(data):
        key, index = read_varint(data, index)
        value, index = read_varint(data, index)
        if key >> 3 == 1:
            return value
    return 0


def read_varint(data, index):
    shift = result = 0
    while True:
        byte = data[index]
        index += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, index
        shift += 7


def identity(data):
    return data


def status_name(response):
    return health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)


def watch(address, service=""):
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        stream = stub.Watch(health_pb2.HealthCheckRequest(service=service))
        try:
            for response in stream:
                say("status", status=status_name(response))
            say("ended", code="OK", details="")
        except grpc.RpcError as error:
            say("ended", code=error.code().name, details=error.details())


def check(address, every_ms, seconds):
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            try:
                response = stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
                say("status", status=status_name(response))
            except grpc.RpcError as error:
                say("failed", code=error.code().name, details=error.details())
                return
            time.sleep(every_ms / 1000)


def ticks(address, every_ms, ignore):
    with grpc.insecure_channel(address) as channel:
        call = channel.unary_stream(
            f"/{WORKER}/Ticks", request_serializer=identity, response_deserializer=identity
        )
        stream = call(message(every_ms, ignore))
        count = 0
        try:
            for tick in stream:
                count += 1
                if count == 3:
                    say("streaming")
            say("ended", code="OK", details="", ticks=count)
        except grpc.RpcError as error:
            say("ended", code=error.code().name, details=error.details(), ticks=count)


def load(targets, stop_file, callers):
    """Unary calls from CALLERS threads and one Ticks subscriber, on one
    channel balanced round-robin over TARGETS, until STOP_FILE exists."""
    target = "ipv4:" + targets
    # The authority would be the target, commas and all, which is no valid
    # :authority: the server resets such streams (PROTOCOL_ERROR).
    options = [("grpc.lb_policy_name", "round_robin"), ("grpc.default_authority", "localhost")]
    with grpc.insecure_channel(target, options=options) as channel:
        work = channel.unary_unary(
            f"/{WORKER}/Work", request_serializer=identity, response_deserializer=identity
        )
        subscribe = channel.unary_stream(
            f"/{WORKER}/Ticks", request_serializer=identity, response_deserializer=identity
        )
        grpc.channel_ready_future(channel).result(timeout=20)
        lock = threading.Lock()
        counts = {"ok": 0, "failed": 0, "streams": 0, "moved": 0, "ticks": 0}
        next_seq = [1]

        def caller():
            while not os.path.exists(stop_file):
                with lock:
                    seq = next_seq[0]
                    next_seq[0] += 1
                try:
                    reply = work(message(seq, 5 if seq % 4 == 0 else 0), timeout=5)
                    answered = first_varint(reply)
                    with lock:
                        if answered == seq:
                            counts["ok"] += 1
                        else:
                            counts["failed"] += 1
                    if answered != seq:
                        say("failed", kind="unary", seq=seq, code="WRONG_ANSWER", details=str(answered))
                except grpc.RpcError as error:
                    with lock:
                        counts["failed"] += 1
                    say("failed", kind="unary", seq=seq, code=error.code().name, details=error.details())
                time.sleep(0.003)

        def subscriber():
            while not os.path.exists(stop_file):
                with lock:
                    counts["streams"] += 1
                try:
                    for _ in subscribe(message(20, 0)):
                        with lock:
                            counts["ticks"] += 1
                        if os.path.exists(stop_file):
                            return
                    # Ended OK: the server has nothing more; subscribe again.
                except grpc.RpcError as error:
                    if error.code() == grpc.StatusCode.UNAVAILABLE and error.details() == SHUTTING_DOWN:
                        # The server is going away and said so: subscribe
                        # again, to the other instance.
                        with lock:
                            counts["moved"] += 1
                        continue
                    with lock:
                        counts["failed"] += 1
                    say("failed", kind="stream", code=error.code().name, details=error.details())

        threads = [threading.Thread(target=caller) for _ in range(callers)]
        threads.append(threading.Thread(target=subscriber))
        for thread in threads:
            thread.start()
        say("started")
        for thread in threads:
            thread.join()
        say("summary", **counts)


def main(argv):
    command, args = argv[1], argv[2:]
    if command == "watch":
        watch(*args)
    elif command == "check":
        check(args[0], int(args[1]), float(args[2]))
    elif command == "ticks":
        ticks(args[0], int(args[1]), int(args[2]))
    elif command == "load":
        load(args[0], args[1], int(args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main(sys.argv)
