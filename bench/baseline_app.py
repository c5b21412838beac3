"""The baseline of bench/consultations.py and bench/e2e.py: the database work of the gateway routes,
written by hand in a plain Flask + SQLAlchemy Core app with no bus, under the same gunicorn settings.

    BASELINE_DATABASE_URL=postgresql+psycopg://… gunicorn -c gateway/gunicorn.conf.py bench.baseline_app:app

Its tables are reflected from the consultations service's database it is pointed at (the columns
as they are, nothing of the service imported). ``/consultations/…`` is the bare minimum (one insert,
one read); ``/domain/…`` issues the statements the service's handlers issue for the same action, in
one transaction each, the outbox rows included (``chassis.outbox``): for a comment the author lock,
the author's earlier texts, the comment published at once and its two events; for the page the
consultation, its alternatives, questions and options, history, decision, attachments, the count
and the first page of comments; for a survey response the questions and an upsert per answer with
its event. The rules' checks in Python between them are left out.
"""
from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

from flask import Flask, jsonify, request
from sqlalchemy import MetaData, create_engine, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis.outbox import add_event
from contracts.consultations import CommentPublished, CommentSubmitted, SurveyAnswered

engine = create_engine(os.environ["BASELINE_DATABASE_URL"], pool_size=8, max_overflow=8)
meta = MetaData()
meta.reflect(engine, only=["consultations", "comments", "alternatives", "questions", "options", "responses",
                           "status_history", "decisions", "attachments"])
t = meta.tables
consultations, comments = t["consultations"], t["comments"]
app = Flask(__name__)


@app.post("/consultations/<uuid:cid>/comments")
def add_comment(cid):
    body = request.get_json()
    with engine.begin() as conn:
        row = conn.execute(comments.insert().values(
            id=uuid.uuid4(), consultation_id=cid, author_id=uuid.uuid4(), author_name="Базовий Автор",
            body=body["body"], status="pending").returning(comments.c.id, comments.c.created_at)).one()
    return jsonify(id=str(row.id), created_at=row.created_at.isoformat()), 201


@app.get("/consultations/<uuid:cid>")
def page(cid):
    with engine.connect() as conn:
        c = conn.execute(select(consultations).where(consultations.c.id == cid)).one()
        n = conn.execute(select(func.count()).select_from(comments).where(
            comments.c.consultation_id == cid, comments.c.status == "published")).scalar_one()
    return jsonify(id=str(c.id), title=c.title, comments_published=n)


@app.get("/consultations/<uuid:cid>/comments")
def first_page(cid):
    with engine.connect() as conn:
        return jsonify(_first_page(conn, cid))


def _first_page(conn, cid) -> dict:
    cond = (comments.c.consultation_id == cid) & (comments.c.status == "published")
    total = conn.execute(select(func.count()).select_from(comments).where(cond)).scalar_one()
    rows = conn.execute(select(comments).where(cond).order_by(comments.c.created_at.desc(), comments.c.id)
                        .limit(20)).all()
    return {"total": total, "items": [{"id": str(r.id), "author_name": r.author_name, "body": r.body}
                                      for r in rows]}


# ---- bench/e2e.py: the statements of the service's handlers, by hand ----

_PRINCIPALS: list = []


def _author() -> dict:
    """The caller: one of BASELINE_PRINCIPALS (a JSON list), chosen by the X-Bench-Author header, so
    the plain side writes as many authors as the gateway side does."""
    if not _PRINCIPALS:
        _PRINCIPALS.extend(json.loads(os.environ["BASELINE_PRINCIPALS"]))
    return _PRINCIPALS[int(request.headers.get("X-Bench-Author", "0")) % len(_PRINCIPALS)]


def _active(s: Session, cid, lock: bool = False):
    stmt = select(consultations).where(consultations.c.id == cid)
    row = s.execute(stmt.with_for_update() if lock else stmt).one()
    if row.status != "active":
        raise LookupError("not active")
    return row


@app.post("/domain/consultations/<uuid:cid>/comments")
def domain_add_comment(cid):
    author, text = _author(), request.get_json()["body"]
    person = uuid.UUID(author["person_id"])
    with Session(engine) as s, s.begin():
        _active(s, cid)
        s.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(f"comment:{cid}:{person}", 0))))
        earlier = s.execute(select(comments.c.consultation_id, comments.c.body)
                            .where(comments.c.author_id == person)).all()
        if any(c == cid and b == text for c, b in earlier):
            return jsonify(code="duplicate_comment"), 409
        comment_id = uuid.uuid4()
        row = s.execute(comments.insert().values(
            id=comment_id, consultation_id=cid, author_id=person, author_name=author["full_name"], body=text,
            status="published", decided_at=func.now()).returning(comments)).one()
        add_event(s, CommentSubmitted(comment_id=comment_id, consultation_id=cid, author_id=person,
                                      author_name=author["full_name"], body=text, submitted_at=row.created_at))
        add_event(s, CommentPublished(comment_id=comment_id, consultation_id=cid, author_id=person))
    return jsonify(id=str(row.id), created_at=row.created_at.isoformat(), status=row.status), 201


@app.get("/domain/consultations/<uuid:cid>/page")
def domain_page(cid):
    with engine.connect() as conn:
        c = conn.execute(select(consultations).where(consultations.c.id == cid)).one()
        alts = conn.execute(select(t["alternatives"]).where(t["alternatives"].c.consultation_id == cid)
                            .order_by(t["alternatives"].c.position)).all()
        qs = conn.execute(select(t["questions"]).where(t["questions"].c.consultation_id == cid)
                          .order_by(t["questions"].c.position)).all()
        if qs:
            conn.execute(select(t["options"]).where(t["options"].c.question_id.in_([q.id for q in qs]))
                         .order_by(t["options"].c.position)).all()
        history = t["status_history"]
        conn.execute(select(history.c.to_status, history.c.at).where(history.c.consultation_id == cid)
                     .order_by(history.c.id)).all()
        conn.execute(select(t["decisions"]).where(t["decisions"].c.consultation_id == cid)).first()
        conn.execute(select(t["attachments"]).where(t["attachments"].c.consultation_id == cid)).all()
        n = conn.execute(select(func.count()).select_from(comments).where(
            comments.c.consultation_id == cid, comments.c.status == "published")).scalar_one()
        first = _first_page(conn, cid)
    return jsonify(consultation={"id": str(c.id), "title": c.title, "alternatives": len(alts),
                                 "questions": len(qs), "comments_published": n}, comments=first)


@app.post("/domain/consultations/<uuid:cid>/responses")
def domain_respond(cid):
    person = uuid.UUID(_author()["person_id"])
    responses = t["responses"]
    with Session(engine) as s, s.begin():
        _active(s, cid)
        qs = s.execute(select(t["questions"].c.id).where(t["questions"].c.consultation_id == cid)).all()
        s.execute(select(t["options"].c.id, t["options"].c.question_id)
                  .where(t["options"].c.question_id.in_([q.id for q in qs]))).all()
        for answer in request.get_json()["answers"]:
            ids = sorted(set(answer["option_ids"]))
            s.execute(insert(responses).values(question_id=answer["question_id"], person_id=person,
                                               consultation_id=cid, option_ids=ids, text_answer=None)
                      .on_conflict_do_update(index_elements=[responses.c.question_id, responses.c.person_id],
                                             set_={"option_ids": ids, "text_answer": None,
                                                   "updated_at": func.now()}))
        add_event(s, SurveyAnswered(consultation_id=cid, person_id=person, answered_at=datetime.now(timezone.utc)))
    return jsonify(answered=True)
