"""The local SMTP catcher saves what it receives and logs no addresses."""
from __future__ import annotations

import smtplib
import socket
import subprocess
import sys
import time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_catcher_saves_a_ukrainian_message_and_logs_no_address(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "deploy.mailcatcher"], cwd=ROOT,
                            env={"SMTP_PORT": str(port), "MAIL_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                smtp = smtplib.SMTP("127.0.0.1", port, timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "catcher did not start"
                time.sleep(0.1)
        msg = EmailMessage()
        msg["From"], msg["To"] = "rada@korosten.example", "mykola.petrenko@example.org"
        msg["Subject"] = "Розпочато консультацію: тарифи на проїзд"
        msg.set_content("Шановний мешканцю, запрошуємо долучитися.")
        with smtp:
            smtp.send_message(msg)
        deadline = time.monotonic() + 5
        while not list(tmp_path.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        files = list(tmp_path.glob("*.eml"))
        assert len(files) == 1
        saved = message_from_bytes(files[0].read_bytes(), policy=policy.default)
        assert saved["Subject"] == "Розпочато консультацію: тарифи на проїзд"
        assert saved.get_content().strip() == "Шановний мешканцю, запрошуємо долучитися."
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert proc.returncode == 0, "catcher did not stop cleanly on SIGTERM"
    log = out.decode()
    assert '"recipients": 1' in log
    assert "Розпочато консультацію" in log
    assert "mykola.petrenko" not in log and "example.org" not in log
