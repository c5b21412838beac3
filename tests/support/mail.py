"""Reading the e-mails the SMTP catcher wrote (one ``.eml`` file each)."""
from __future__ import annotations

import email
from email import policy
from pathlib import Path


def mails(mail_dir: Path, tag: str, title: str | None = None) -> list[email.message.EmailMessage]:
    """E-mails to the seeded register (``tag``), about the consultation ``title`` when given (other
    tests publish consultations too, and those who chose no category get every one)."""
    found = []
    for path in mail_dir.glob("*.eml"):
        msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        if tag in str(msg["To"]) and (title is None or title in str(msg["Subject"])):
            found.append(msg)
    return found
