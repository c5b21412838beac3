"""gunicorn's gthread worker, but a request's head is read by the worker's event loop, not a thread.

Stock gthread hands a connection to a pool thread as soon as its first byte arrives; the thread
then blocks until the whole head is in. A client that sends one byte every half second holds a
thread for as long as it likes, and 16 such clients stop the gateway (2 workers × 8 threads).
Here the event loop collects the head without blocking (a slow socket costs a buffer, not a
thread), within ``GATEWAY_HEADER_TIMEOUT`` seconds and ``GATEWAY_HEADER_MAX_KB``; only a complete
head goes to a thread (the thread still reads the body, which the buffering proxy in front
delivers at once in production: docs/hardening.md). New and kept-alive connections alike.
Requests are served exactly as by gthread, so the pooled nameko RPC proxies keep one thread each.
"""
from __future__ import annotations

import errno
import selectors
import time
from collections import deque
from functools import partial

from gunicorn.workers.gthread import TConn, ThreadWorker

TIMED_OUT = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
TOO_LARGE = b"HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
END_OF_HEAD = b"\r\n\r\n"


class HeadBufferingWorker(ThreadWorker):
    def init_process(self):
        from chassis.settings import get_settings

        settings = get_settings()
        self.head_timeout = settings.gateway_header_timeout
        self.head_max = settings.gateway_header_max_kb * 1024
        self.reading_heads: deque = deque()  # (deadline, conn), in deadline order
        super().init_process()

    # ---- connections enter through the event loop ------------------------------------------------

    def accept(self, listener):
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client_sock, client_addr, listener.getsockname())  # non-blocking
        if self.cfg.is_ssl:  # the TLS handshake belongs to gthread's own path
            client_sock.setblocking(True)
            self.enqueue_req(conn)
            return
        self._read_head(conn)

    def on_client_socket_readable(self, conn, client):
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read_head(conn)

    def _read_head(self, conn):
        conn.head = b""
        conn.head_deadline = time.monotonic() + self.head_timeout
        conn.sock.setblocking(False)
        self.reading_heads.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_head_bytes, conn))

    def _on_head_bytes(self, conn, client):
        try:
            data = client.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop_head(conn)
            return
        conn.head += data
        if END_OF_HEAD not in conn.head and b"\n\n" not in conn.head:
            if len(conn.head) > self.head_max:
                self._drop_head(conn, TOO_LARGE)
            return
        self.poller.unregister(client)
        self.reading_heads.remove(conn)
        conn.sock.setblocking(True)
        conn.init()  # the parser (plain HTTP/1.x); a kept-alive connection keeps its own
        conn.parser.unreader.unread(conn.head)
        conn.data_ready, conn.head = True, b""
        self.enqueue_req(conn)

    def _drop_head(self, conn, answer: bytes = b""):
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass
        try:
            self.reading_heads.remove(conn)
        except ValueError:
            pass
        if answer:
            try:
                conn.sock.send(answer)
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    # ---- the head deadline ----------------------------------------------------------------------

    def murder_pending(self):
        super().murder_pending()
        now = time.monotonic()
        while self.reading_heads and self.reading_heads[0].head_deadline <= now:
            conn = self.reading_heads[0]
            self._drop_head(conn, TIMED_OUT if conn.head else b"")
