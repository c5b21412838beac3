"""The baseline of bench/consultations.py: the same database work as the gateway routes, done by a
plain Flask + SQLAlchemy app with no bus, under the same gunicorn settings.

    BASELINE_DATABASE_URL=postgresql+psycopg://… gunicorn -c gateway/gunicorn.conf.py bench.baseline_app:app
"""
from __future__ import annotations

import os
import uuid

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, func, select

from services.consultations.models import comments, consultations

engine = create_engine(os.environ["BASELINE_DATABASE_URL"], pool_size=8, max_overflow=8)
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
        cond = (comments.c.consultation_id == cid) & (comments.c.status == "published")
        total = conn.execute(select(func.count()).select_from(comments).where(cond)).scalar_one()
        rows = conn.execute(select(comments).where(cond).order_by(comments.c.created_at.desc(), comments.c.id)
                            .limit(20)).all()
    return jsonify(total=total, items=[{"id": str(r.id), "author_name": r.author_name, "body": r.body}
                                       for r in rows])


# ---- bench/e2e.py: the very same handlers the consultations service runs, in-process ----
# (the same SQL, the outbox row included; no bus, no registry: the caller is a fixed principal)

def _unit():
    """The consultations service's unit of work over this app's engine: the same handlers, the same
    transactions."""
    from chassis.db import Db
    from chassis.store import UnitOfWork
    from services.consultations.store import Store

    return UnitOfWork(Db(engine), Store)


_PRINCIPALS: list = []


def _principal():
    """The caller: one of BASELINE_PRINCIPALS (a JSON list), chosen by the X-Bench-Author header, so
    the plain side writes as many authors as the gateway side does."""
    import json

    from contracts.identity import Principal

    if "BASELINE_PRINCIPALS" not in os.environ:
        return None
    if not _PRINCIPALS:
        _PRINCIPALS.extend(Principal.model_validate(p) for p in json.loads(os.environ["BASELINE_PRINCIPALS"]))
    return _PRINCIPALS[int(request.headers.get("X-Bench-Author", "0")) % len(_PRINCIPALS)]


@app.post("/domain/consultations/<uuid:cid>/comments")
def domain_add_comment(cid):
    from services.consultations.handlers import comments
    from contracts.consultations import CommentIn

    out = comments.add_comment(_unit(), _principal(), cid, CommentIn.model_validate(request.get_json()))
    return jsonify(out.model_dump(mode="json")), 201


@app.get("/domain/consultations/<uuid:cid>/page")
def domain_page(cid):
    from services.consultations.handlers import comments, reading

    unit = _unit()
    page = reading.read(unit, None, cid).model_dump(mode="json")
    first = comments.list_comments(unit, None, cid, 1, 20, True, None, None).model_dump(mode="json")
    return jsonify(consultation=page, comments=first)


@app.post("/domain/consultations/<uuid:cid>/responses")
def domain_respond(cid):
    from services.consultations.handlers import surveys
    from contracts.consultations import ResponseIn

    out = surveys.respond(_unit(), _principal(), cid, ResponseIn.model_validate(request.get_json()))
    return jsonify(out.model_dump(mode="json"))
