#!/usr/bin/env python3
"""Traffic endpoints for scripts/bench, each run as its own process so that
it never shares the benchmark's interpreter (or its GIL) with the tunnels.

  endpoints.py sink                 listen on 127.0.0.1:0, print "port N", take one
                                    connection, read it to EOF, print a JSON summary
  endpoints.py source PORT BYTES    connect to 127.0.0.1:PORT, send BYTES of random
                                    data, half-close, wait for EOF, print JSON timings
  endpoints.py streams-sink N SEED  listen on 127.0.0.1:0, print "port N", take N
                                    connections, read each to EOF checking every byte
                                    against the stream its 8-byte header names, print a
                                    JSON summary (per stream: bytes, verified, last)
  endpoints.py streams-source PORT BYTES N SEED
                                    open N connections to 127.0.0.1:PORT at once, send
                                    each an 8-byte stream index then BYTES//N bytes of
                                    its own seeded pseudo-random stream, half-close,
                                    wait for EOF; print JSON timings
  endpoints.py echo                 listen on 127.0.0.1:0, print "port N", echo every
                                    connection (one thread each) until killed
  endpoints.py pingpong PORT N K    N times: connect, send 1 byte, read it back (the
                                    connect+first-byte time), then K more 1-byte round
                                    trips on the same connection; print JSON latencies

Times are time.monotonic() (CLOCK_MONOTONIC, comparable between processes).
"""

import json
import os
import random
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def listen():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    print(f"port {srv.getsockname()[1]}", flush=True)
    return srv


def sink():
    srv = listen()
    conn, _ = srv.accept()
    srv.close()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    first = None
    while True:
        n = conn.recv_into(view)
        if n == 0:
            break
        if first is None:
            first = time.monotonic()
        total += n
    last = time.monotonic()
    conn.close()
    print(json.dumps({"bytes": total, "first": first, "last": last}), flush=True)


def source(port, size):
    block = os.urandom(4 * CHUNK)
    view = memoryview(block)
    conn = socket.create_connection(("127.0.0.1", port))
    start = time.monotonic()
    left = size
    while left > 0:
        n = min(left, len(block))
        conn.sendall(view[:n])
        left -= n
    sent = time.monotonic()
    conn.shutdown(socket.SHUT_WR)
    extra = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        extra += len(data)
    end = time.monotonic()
    conn.close()
    print(json.dumps({"start": start, "sent": sent, "end": end, "unexpected": extra}), flush=True)


def stream_block(seed, index):
    """The block stream `index` repeats: 4 MiB, pseudo-random, its own per stream."""
    return random.Random(seed * 1000 + index).randbytes(4 * CHUNK)


def stream_sink(count, seed):
    srv = listen()
    conns = [srv.accept()[0] for _ in range(count)]
    srv.close()
    results = [None] * count

    def drain(slot, conn):
        header = b""
        while len(header) < 8:
            data = conn.recv(8 - len(header))
            if not data:
                break
            header += data
        index = int.from_bytes(header, "little") if len(header) == 8 else -1
        block = stream_block(seed, index) if 0 <= index < count else None
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        total, ok = 0, block is not None
        while True:
            n = conn.recv_into(view)
            if n == 0:
                break
            if ok:
                # compare with the stream's block at this offset (wrapping)
                got, off, pos = view[:n], total % len(block), 0
                while pos < n:
                    take = min(n - pos, len(block) - off)
                    if bytes(got[pos:pos + take]) != block[off:off + take]:
                        ok = False
                        break
                    pos += take
                    off = 0
            total += n
        last = time.monotonic()
        conn.close()
        results[slot] = {"index": index, "bytes": total, "verified": ok, "last": last}

    threads = [threading.Thread(target=drain, args=(i, c)) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"streams": results}), flush=True)


def stream_source(port, size, count, seed):
    per = size // count
    conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
    start = time.monotonic()
    extra = [0] * count

    def send(index, conn):
        block = memoryview(stream_block(seed, index))
        conn.sendall(index.to_bytes(8, "little"))
        left = per
        while left > 0:
            n = min(left, len(block))
            conn.sendall(block[:n])
            left -= n
        conn.shutdown(socket.SHUT_WR)
        while True:
            data = conn.recv(65536)
            if not data:
                break
            extra[index] += len(data)
        conn.close()

    threads = [threading.Thread(target=send, args=(i, c)) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = time.monotonic()
    print(json.dumps({"start": start, "end": end, "per_stream": per, "unexpected": sum(extra)}), flush=True)


def echo_conn(conn):
    with conn:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)


def echo():
    srv = listen()
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=echo_conn, args=(conn,), daemon=True).start()


def read_exact(conn, n):
    got = b""
    while len(got) < n:
        data = conn.recv(n - len(got))
        if not data:
            raise SystemExit(f"pingpong: connection closed after {len(got)} of {n} bytes")
        got += data
    return got


def pingpong(port, count, more):
    first, steady = [], []
    for i in range(count):
        t0 = time.monotonic()
        conn = socket.create_connection(("127.0.0.1", port))
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.sendall(b"p")
        if read_exact(conn, 1) != b"p":
            raise SystemExit("pingpong: wrong byte echoed")
        first.append(time.monotonic() - t0)
        for _ in range(more):
            t1 = time.monotonic()
            conn.sendall(b"q")
            if read_exact(conn, 1) != b"q":
                raise SystemExit("pingpong: wrong byte echoed")
            steady.append(time.monotonic() - t1)
        conn.close()
    print(json.dumps({"first": first, "steady": steady}), flush=True)


def main(argv):
    if len(argv) >= 1 and argv[0] == "sink":
        sink()
    elif len(argv) == 3 and argv[0] == "source":
        source(int(argv[1]), int(argv[2]))
    elif len(argv) == 3 and argv[0] == "streams-sink":
        stream_sink(int(argv[1]), int(argv[2]))
    elif len(argv) == 5 and argv[0] == "streams-source":
        stream_source(int(argv[1]), int(argv[2]), int(argv[3]), int(argv[4]))
    elif len(argv) >= 1 and argv[0] == "echo":
        echo()
    elif len(argv) == 4 and argv[0] == "pingpong":
        pingpong(int(argv[1]), int(argv[2]), int(argv[3]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
