"""A local SMTP catcher for `make run` and docker compose: every message is saved as an .eml file
in MAIL_DIR and logged (Message-ID, subject, number of recipients; never the addresses)."""
from __future__ import annotations

import logging
import os
import signal
import threading
import uuid
from email import message_from_bytes, policy
from pathlib import Path

from aiosmtpd.controller import Controller

from chassis.log import configure_logging

log = logging.getLogger("mailcatcher")


class SaveToDir:
    def __init__(self, directory: Path):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        msg = message_from_bytes(envelope.content, policy=policy.default)
        name = f"{uuid.uuid4().hex}.eml"
        tmp = self.directory / f".{name}.tmp"
        tmp.write_bytes(envelope.content)
        tmp.rename(self.directory / name)  # a reader never sees half a message
        log.info("mail caught", extra={"message_id": msg.get("Message-ID"), "subject": msg.get("Subject"),
                                       "recipients": len(envelope.rcpt_tos), "file": name})
        return "250 Message accepted for delivery"


def main() -> None:
    configure_logging("mailcatcher")
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd logs every address at INFO
    host = os.environ.get("MAILCATCHER_BIND", "127.0.0.1")
    port = int(os.environ.get("SMTP_PORT", "1025"))
    directory = Path(os.environ.get("MAIL_DIR", "var/mail"))
    controller = Controller(SaveToDir(directory), hostname=host, port=port)
    controller.start()
    log.info("SMTP catcher listening on %s:%d, saving to %s", host, port, directory)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    controller.stop()
    log.info("SMTP catcher stopped")


if __name__ == "__main__":
    main()
