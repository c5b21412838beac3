"""A small loopback TCP proxy the tests put in front of RabbitMQ, PostgreSQL or SMTP to inject
network faults without touching the real server (docs/drills.md):

* :meth:`TcpProxy.stop` — drop: refuse new connections and cut every open one (RST/FIN);
* :attr:`TcpProxy.delay` — every chunk is held this many seconds in each direction (latency);
* :meth:`TcpProxy.half_open` — the peer vanishes without a FIN: connections stay open, bytes go
  nowhere, new connections are accepted and then hear nothing (a pulled cable); :meth:`heal` cuts
  the connections that lived through it (their streams lost bytes) and forwards again;
* :meth:`TcpProxy.sever` — the connections open now go half-open for good (bytes swallowed both
  ways, no FIN, no RST), while new connections are forwarded: a NAT or firewall that forgot them,
  or a peer frozen mid-stream. Only the clients' own heartbeats and timeouts can notice.
"""
from __future__ import annotations

import socket
import threading
import time


class TcpProxy:
    def __init__(self, upstream_host: str, upstream_port: int, listen_port: int = 0):
        self.upstream = (upstream_host, upstream_port)
        self.port = listen_port
        self.delay = 0.0
        self.blackhole = False
        self.severed: set[socket.socket] = set()
        self.accepted = 0
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    def start(self) -> "TcpProxy":
        lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(("127.0.0.1", self.port))
        lsock.listen(64)
        self.port = lsock.getsockname()[1]
        self._listener = lsock
        threading.Thread(target=self._accept, args=(lsock,), daemon=True).start()
        return self

    def _accept(self, lsock: socket.socket) -> None:
        while True:
            try:
                client, _ = lsock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.blackhole:  # accepted, then silence
                with self._lock:
                    self._conns.add(client)
                threading.Thread(target=self._pump, args=(client, None), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns.update((client, upstream))
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket | None) -> None:
        try:
            while data := src.recv(65536):
                if self.delay:
                    time.sleep(self.delay)
                if self.blackhole or dst is None or src in self.severed:
                    continue  # swallowed: the other side never hears of it
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                if s is not None:
                    self._close(s)

    def _close(self, sock: socket.socket) -> None:
        with self._lock:
            self._conns.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def half_open(self) -> None:
        self.blackhole = True

    def sever(self) -> int:
        """Every connection open now goes silent for good, both ways; new ones are forwarded.
        Returns how many sockets were severed."""
        with self._lock:
            self.severed.update(self._conns)
            return len(self.severed)

    def heal(self) -> None:
        """End a half-open spell: cut the connections that lived through it, forward again."""
        with self._lock:
            conns = list(self._conns)
        self.blackhole = False
        for sock in conns:
            self._close(sock)

    def stop(self) -> None:
        """Refuse new connections and cut every open one (the server 'goes away')."""
        if self._listener is not None:
            try:  # wakes the thread blocked in accept(); close() alone leaves it accepting
                self._listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self._listener.close()
            self._listener = None
        with self._lock:
            conns = list(self._conns)
        for sock in conns:
            self._close(sock)
