"""The R-3.16 report, the R-3.14 protocol, the R-1.11 archive bundle and statistics, as plain
functions over a SQLAlchemy session.

Other services are reached through :class:`Sources` (callables: nameko RPC proxies in service.py,
anything in tests and benchmarks), so nothing here depends on the framework. Who sees what follows
DESIGN: a published report is public; before that only officials of the owning unit, moderators and
administrators see it (others 404); only officials of the owning unit change it (others 403).
"""
from __future__ import annotations

import json
import os
import tempfile
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Callable, Iterator

from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from chassis import metrics
from chassis.errors import Conflict, Forbidden, InvalidInput, NotFound
from chassis.outbox import add_event
from contracts.identity import Principal, Role
from contracts.reports import (OUTCOME_LABELS, Consideration, Outcome, ProposalOut, ProposalPage, ReportOut,
                               ReportPublished, ReportStats, VersionList, VersionOut)
from services.reports import render, rules
from services.reports.models import (considerations, publish_requests, reports, snapshot_comments,
                                     snapshot_participants, snapshots)

PAGE = 1000  # keyset page size, both over RPC and over our own tables
STATUS_LABELS = {"published": "оприлюднено", "pending": "на модерації", "rejected": "відхилено"}


@dataclass
class Sources:
    """What the reports service asks other services (by RPC in production)."""

    source: Callable[[str], dict]                                  # consultations.report_source
    comments: Callable[[str, list | None, int, bool], dict]         # consultations.report_comments
    participants: Callable[[str, str | None, int], dict]            # consultations.report_participants
    profiles: Callable[[list[str], str], list[dict]]               # registry.participant_profiles
    year_counts: Callable[[int], list[dict]] = lambda year: []     # consultations.year_counts


def now() -> datetime:
    return datetime.now(timezone.utc)


# ---- who sees and does what ----------------------------------------------------------------------

def owns(actor: Principal | None, snap) -> bool:
    return actor is not None and snap.unit_id is not None and snap.unit_id in actor.units()


def insider(actor: Principal | None, snap) -> bool:
    """Sees the report before it is published and the full protocol (with grounds)."""
    return owns(actor, snap) or (actor is not None and (actor.has(Role.moderator) or actor.has(Role.admin)))


def _snapshot(session: Session, cid: uuid.UUID, lock: bool = False):
    stmt = select(snapshots).where(snapshots.c.consultation_id == cid)
    return session.execute(stmt.with_for_update() if lock else stmt).first()


def _versions(session: Session, cid: uuid.UUID) -> list:
    return session.execute(select(reports).where(reports.c.consultation_id == cid)
                           .order_by(reports.c.version)).all()


def _visible(session: Session, actor: Principal | None, cid: uuid.UUID, lock: bool = False):
    snap = _snapshot(session, cid, lock)
    if snap is None or not (insider(actor, snap) or _versions(session, cid)):
        raise NotFound("Звіту не знайдено", code="report_not_found")
    return snap


def _editable(session: Session, actor: Principal | None, cid: uuid.UUID, admin: bool = False):
    """The report as its preparer may change it: officials of the owning unit (``admin``: or an
    administrator); 404 for whoever may not see it, 409 once archived."""
    snap = _visible(session, actor, cid, lock=True)
    if not (owns(actor, snap) or (admin and actor is not None and actor.has(Role.admin))):
        raise Forbidden("Звіт готує посадова особа підрозділу-власника", code="not_owner")
    if snap.archived_at is not None:
        raise Conflict("Архівний звіт незмінний", code="archived")
    return snap


# ---- the snapshot (on consultation_closed, or on demand) ----------------------------------------

def take_snapshot(session: Session, src: Sources, cid: uuid.UUID, replace: bool = False, store=None) -> bool:
    """Copy what the report needs from consultations (pages of PAGE) and registry into our tables.
    Idempotent: an existing snapshot stays unless ``replace``; never once a version is published."""
    existing = _snapshot(session, cid, lock=True)
    if existing is not None and not replace:
        return False
    if existing is not None and _versions(session, cid):
        raise Conflict("Звіт уже оприлюднено: знімок незмінний", code="report_published")
    data = src.source(str(cid))
    page = data["consultation"]
    if data["status"] not in ("closed", "archived"):
        raise Conflict("Звіт складають після завершення консультації", code="consultation_not_closed")
    session.execute(delete(snapshot_comments).where(snapshot_comments.c.consultation_id == cid))
    session.execute(delete(snapshot_participants).where(snapshot_participants.c.consultation_id == cid))
    seq = published = 0
    after = None
    while True:
        chunk = src.comments(str(cid), after, PAGE, True)
        rows = [{"consultation_id": cid, "comment_id": uuid.UUID(c["id"]), "seq": seq + i + 1,
                 "author_name": c["author_name"], "body": c["body"], "created_at": c["created_at"],
                 "alternative_id": c["alternative_id"], "paragraph_id": c["paragraph_id"], "status": c["status"],
                 "decided_at": c["decided_at"], "grounds": c["rejection_grounds"] or None}
                for i, c in enumerate(chunk["items"])]
        if rows:
            session.execute(snapshot_comments.insert(), rows)
        seq += len(rows)
        published += sum(1 for r in rows if r["status"] == "published")
        after = chunk["next_after"]
        if after is None:
            break
    on = (data["closed_at"] or now().isoformat())[:10]
    people = 0
    after = None
    while True:
        chunk = src.participants(str(cid), after, PAGE)
        first = {p["person_id"]: p["first_time"] for p in chunk["items"]}
        if first:
            profiles = src.profiles(list(first), on)
            session.execute(snapshot_participants.insert(), [
                {"consultation_id": cid, "person_id": uuid.UUID(p["person_id"]), "full_name": p["full_name"],
                 "age_band": p["age_band"], "first_time": first[p["person_id"]]} for p in profiles])
            people += len(profiles)
        after = chunk["next_after"]
        if after is None:
            break
    values = dict(title=page["title"], category=page["category"], form=page["form"],
                  unit_id=uuid.UUID(data["unit_id"]) if data["unit_id"] else None, unit_name=page["unit_name"],
                  source=data, closed_at=data["closed_at"], report_due=data["report_due"],
                  comments_published=published, comments_submitted=seq, participants=people, taken_at=now())
    session.execute(insert(snapshots).values(consultation_id=cid, **values)
                    .on_conflict_do_update(index_elements=[snapshots.c.consultation_id], set_=values))
    if store is not None:  # the protocol never changes after closing: rendered once, here
        snap = _snapshot(session, cid)
        session.execute(update(snapshots).where(snapshots.c.consultation_id == cid).values(protocol={
            "full": protocol_files(session, snap, store, True), "public": protocol_files(session, snap, store, False)}))
    return True


def retake(session: Session, actor: Principal | None, src: Sources, store, cid: uuid.UUID) -> ReportOut:
    """On demand (consultations closed before this service existed, or a missed event): the owning
    unit's officials or an administrator (with a snapshot already taken too: docs/reports.md and the
    gateway's role gate say so)."""
    snap = _snapshot(session, cid)
    if snap is not None:
        _editable(session, actor, cid, admin=True)
    elif actor is None or not actor.has(Role.admin):
        data = src.source(str(cid))
        if actor is None or not data["unit_id"] or uuid.UUID(data["unit_id"]) not in actor.units():
            raise Forbidden("Знімок бере посадова особа підрозділу-власника або адміністратор", code="not_owner")
    take_snapshot(session, src, cid, replace=True, store=store)
    return report_view(session, actor, cid)


# ---- consideration of proposals (R-3.16) --------------------------------------------------------

def consider(session: Session, actor: Principal | None, cid: uuid.UUID, comment_ids: list[uuid.UUID],
             c: Consideration) -> int:
    """Mark one or many proposals with the same consideration (bulk where many say the same)."""
    _editable(session, actor, cid)
    if _versions(session, cid):
        raise Conflict("Звіт оприлюднено: розгляд незмінний", code="report_published")
    ids = list(dict.fromkeys(comment_ids))
    known = set(session.execute(select(snapshot_comments.c.comment_id).where(
        snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
        snapshot_comments.c.comment_id.in_(ids))).scalars())
    unknown = [str(i) for i in ids if i not in known]
    if unknown:
        raise InvalidInput(f"Не пропозиції цієї консультації: {len(unknown)}", code="proposal_not_found",
                           errors=[{"field": "comment_ids", "message": i} for i in unknown[:rules.SHOWN_IDS]])
    values = [{"consultation_id": cid, "comment_id": i, "outcome": c.outcome.value,
               "justification": (c.justification or "").strip() or None, "decided_by": actor.person_id}
              for i in ids]
    stmt = insert(considerations)
    session.execute(stmt.on_conflict_do_update(
        index_elements=[considerations.c.consultation_id, considerations.c.comment_id],
        set_={"outcome": stmt.excluded.outcome, "justification": stmt.excluded.justification,
              "decided_by": stmt.excluded.decided_by, "decided_at": func.now()}), values)
    return len(ids)


def set_conclusion(session: Session, actor: Principal | None, cid: uuid.UUID, text: str) -> ReportOut:
    _editable(session, actor, cid)
    if _versions(session, cid):
        raise Conflict("Звіт оприлюднено: висновок незмінний", code="report_published")
    session.execute(update(snapshots).where(snapshots.c.consultation_id == cid).values(conclusion=text))
    return report_view(session, actor, cid)


def _targets(snap) -> Callable[[object, object], str]:
    page = snap.source["consultation"]
    alts = {a["id"]: f"альтернатива {a['position']}: {a['text']}" for a in page.get("alternatives", [])}
    paras = {p["id"]: f"пункт {p['number']}" for p in page.get("paragraphs", [])}

    def target(alternative_id, paragraph_id) -> str:
        if alternative_id:
            return alts.get(str(alternative_id), "альтернатива")
        if paragraph_id:
            return paras.get(str(paragraph_id), "пункт")
        return "загалом"
    return target


def _proposal_rows(session: Session, snap, published_only: bool = True) -> Iterator:
    """Comments of the snapshot with their consideration, in submission order, PAGE at a time."""
    cid = snap.consultation_id
    last = 0
    while True:
        cond = [snapshot_comments.c.consultation_id == cid, snapshot_comments.c.seq > last]
        if published_only:
            cond.append(snapshot_comments.c.status == "published")
        rows = session.execute(
            select(snapshot_comments, considerations.c.outcome, considerations.c.justification)
            .select_from(snapshot_comments.outerjoin(considerations, and_(
                considerations.c.consultation_id == snapshot_comments.c.consultation_id,
                considerations.c.comment_id == snapshot_comments.c.comment_id)))
            .where(*cond).order_by(snapshot_comments.c.seq).limit(PAGE)).all()
        yield from rows
        if len(rows) < PAGE:
            return
        last = rows[-1].seq


def proposals(session: Session, actor: Principal | None, cid: uuid.UUID, page: int, per_page: int,
              missing_only: bool) -> ProposalPage:
    snap = _visible(session, actor, cid)
    target = _targets(snap)
    cond = [snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published"]
    joined = snapshot_comments.outerjoin(considerations, and_(
        considerations.c.consultation_id == snapshot_comments.c.consultation_id,
        considerations.c.comment_id == snapshot_comments.c.comment_id))
    if missing_only:
        cond.append(considerations.c.outcome.is_(None))
    total = session.execute(select(func.count()).select_from(joined).where(*cond)).scalar_one()
    considered = _considered(session, cid)
    rows = session.execute(select(snapshot_comments, considerations.c.outcome, considerations.c.justification)
                           .select_from(joined).where(*cond).order_by(snapshot_comments.c.seq)
                           .offset((page - 1) * per_page).limit(per_page)).all()
    return ProposalPage(items=[ProposalOut(comment_id=r.comment_id, number=r.seq, author_name=r.author_name,
                                           created_at=r.created_at, target=target(r.alternative_id, r.paragraph_id),
                                           body=r.body, outcome=r.outcome, justification=r.justification)
                               for r in rows], total=total, considered=considered, page=page, per_page=per_page)


def _considered(session: Session, cid: uuid.UUID) -> int:
    return session.execute(select(func.count()).select_from(considerations).where(
        considerations.c.consultation_id == cid)).scalar_one()


def _missing(session: Session, cid: uuid.UUID) -> list[uuid.UUID]:
    return list(session.execute(
        select(snapshot_comments.c.comment_id).select_from(snapshot_comments.outerjoin(considerations, and_(
            considerations.c.consultation_id == snapshot_comments.c.consultation_id,
            considerations.c.comment_id == snapshot_comments.c.comment_id)))
        .where(snapshot_comments.c.consultation_id == cid, snapshot_comments.c.status == "published",
               considerations.c.outcome.is_(None)).order_by(snapshot_comments.c.seq)).scalars())


def _representativeness(session: Session, cid: uuid.UUID) -> dict:
    return rules.representativeness(session.execute(
        select(snapshot_participants.c.age_band, snapshot_participants.c.first_time, func.count())
        .where(snapshot_participants.c.consultation_id == cid)
        .group_by(snapshot_participants.c.age_band, snapshot_participants.c.first_time)).all())


# ---- the report and its versions ----------------------------------------------------------------

def _version_out(r) -> VersionOut:
    return VersionOut(version=r.version, reason=r.reason, published_at=r.published_at,
                      content_sha256=r.content_sha256, files=r.files)


def report_view(session: Session, actor: Principal | None, cid: uuid.UUID) -> ReportOut:
    snap = _visible(session, actor, cid)
    versions = _versions(session, cid)
    return ReportOut(
        consultation_id=cid, title=snap.title, unit_name=snap.unit_name,
        status="published" if versions else "draft", closed_at=snap.closed_at, report_due=snap.report_due,
        overdue=rules.overdue(snap.report_due, versions[0].published_at if versions else None, now()),
        proposals=snap.comments_published, considered=_considered(session, cid), participants=snap.participants,
        representativeness=_representativeness(session, cid), conclusion=snap.conclusion,
        versions=[_version_out(v) for v in versions], archived=snap.archived_at is not None,
        retain_until=snap.retain_until)


def versions(session: Session, actor: Principal | None, cid: uuid.UUID) -> VersionList:
    _visible(session, actor, cid)
    return VersionList(items=[_version_out(v) for v in _versions(session, cid)])


def _document(session: Session, snap, version: int, published_at: datetime) -> render.Document:
    src = snap.source
    page = src["consultation"]
    notice = page.get("notice") or {}
    rep = _representativeness(session, snap.consultation_id)
    decision = page.get("decision")
    materials = [a for a in page.get("attachments", []) if a["kind"] == "material"]
    decision_files = [a for a in page.get("attachments", []) if a["kind"] == "decision"]
    sections = [
        ("Орган, що проводив консультацію", [snap.unit_name or "—", f"Відповідальна особа: "
                                            f"{notice.get('responsible_official') or '—'}"]),
        ("Питання", [page["question"]]),
    ]
    if page.get("alternatives"):
        sections.append(("Альтернативи", [f"{a['position']}. {a['text']}" for a in page["alternatives"]]))
    if page.get("paragraphs"):
        sections.append(("Проєкт акта", [f"{p['number']}. {p['text']}" for p in page["paragraphs"]]))
    sections.append(("Матеріали", [f"{a['title']} ({a['filename']}, SHA-256 {a['sha256']})" for a in materials]
                     or ["—"]))
    tallies = src.get("results") or {}
    lines = [f"{a['text']}: {a['supporters']}" for a in tallies.get("alternatives", [])]
    for q in tallies.get("questions", []):
        lines.append(f"{q['text']}: " + "; ".join(f"{o['text']} — {o['count']}" for o in q["options"]))
    if lines:
        sections.append(("Результати голосування та опитування", lines))
    names = [r.full_name for r in session.execute(
        select(snapshot_participants.c.full_name).where(snapshot_participants.c.consultation_id == snap.consultation_id)
        .order_by(snapshot_participants.c.full_name).limit(PAGE))]
    more = snap.participants - len(names)
    sections.append(("Учасники", [f"Усього: {snap.participants}; пропозицій і зауважень: {snap.comments_published}",
                                  "За віком: " + "; ".join(f"{b}: {n}" for b, n in rep["age_bands"].items()),
                                  f"Уперше: {rep['first_time']}; повторно: {rep['returning']}",
                                  ", ".join(names) + (f" та ще {more}" if more > 0 else "")]))
    sections.append(("Узагальнений висновок", [snap.conclusion or "—"]))
    if decision:
        sections.append(("Рішення", [f"{decision['number']} від {decision['adopted_on']}: {decision['title']}",
                                     decision["text"]]
                         + [f"Додаток: {a['title']} ({a['filename']}, SHA-256 {a['sha256']})" for a in decision_files]))
    meta = {"consultation_id": str(snap.consultation_id), "title": snap.title, "version": version,
            "published_at": published_at.isoformat(), "unit": snap.unit_name, "question": page["question"],
            "form": page["form"], "category": page["category"], "notice": notice,
            "alternatives": page.get("alternatives", []), "paragraphs": page.get("paragraphs", []),
            "materials": materials, "results": tallies, "participants": snap.participants,
            "representativeness": rep, "conclusion": snap.conclusion, "decision": decision,
            "decision_attachments": decision_files}
    return render.Document(
        title=f"Звіт про результати консультації «{snap.title}» (версія {version})", sections=sections, meta=meta,
        columns=[("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"), ("target", "Щодо"),
                 ("body", "Пропозиція"), ("outcome", "Результат розгляду"), ("justification", "Обґрунтування"),
                 ("comment_id", "Ідентифікатор")])


def _report_rows(session: Session, snap) -> Iterator[dict]:
    target = _targets(snap)
    for r in _proposal_rows(session, snap):
        yield {"number": r.seq, "comment_id": str(r.comment_id), "author_name": r.author_name,
               "created_at": r.created_at.isoformat(timespec="seconds"), "target": target(r.alternative_id, r.paragraph_id),
               "body": r.body, "outcome": OUTCOME_LABELS[Outcome(r.outcome)] if r.outcome else None,
               "justification": r.justification}


def _store_files(store, doc: render.Document, rows: Iterator[dict], stem: str) -> dict[str, dict]:
    """Render every format into a temporary directory and keep each in the file store by SHA-256."""
    with tempfile.TemporaryDirectory(prefix="econsult-report-") as tmp:
        paths = render.write_all(doc, rows, tmp, stem)
        files = {}
        for fmt, path in paths.items():
            with open(path, "rb") as f:
                data = f.read()
            files[fmt] = {"sha256": store.put(data), "size": len(data), "content_type": render.CONTENT_TYPES[fmt]}
        return files


def _build_version(session: Session, src: Sources, store, snap, reason: str, actor_id, public_url: str) -> VersionOut | None:
    """A new immutable version when what it would say differs from the last one; None otherwise."""
    cid = snap.consultation_id
    fresh = src.source(str(cid))
    page = fresh["consultation"]
    source = {**snap.source, "consultation": {**snap.source["consultation"], "decision": page.get("decision"),
                                              "attachments": page.get("attachments", [])}}
    mark = rules.fingerprint(page.get("decision"), page.get("attachments", []))
    previous = _versions(session, cid)
    if previous and previous[-1].source_sha256 == mark:
        return None
    session.execute(update(snapshots).where(snapshots.c.consultation_id == cid).values(source=source))
    snap = _snapshot(session, cid)
    number = (previous[-1].version + 1) if previous else 1
    at = now()
    files = _store_files(store, _document(session, snap, number, at), _report_rows(session, snap), f"report-v{number}")
    row = session.execute(reports.insert().values(
        id=uuid.uuid4(), consultation_id=cid, version=number, status="published", published_at=at,
        published_by=actor_id, reason=reason, content_sha256=files["json"]["sha256"], files=files,
        source_sha256=mark).returning(reports)).one()
    base = f"{public_url.rstrip('/')}/api/v1/consultations/{cid}/report"
    add_event(session, ReportPublished(consultation_id=cid, report_version=number, published_at=at,
                                       files={fmt: f"{base}.{fmt}?version={number}" for fmt in files}))
    return _version_out(row)


def publish(session: Session, actor: Principal | None, src: Sources, cid: uuid.UUID) -> dict:
    """Version 1 once every proposal is considered and the conclusion written (R-3.16); later, a new
    version when the decision or its attachments changed (R-3.18). Checked here; the files are
    rendered by :func:`publish_due` off the request (50,000 proposals take a while)."""
    snap = _editable(session, actor, cid)
    rules.refuse_unless_complete(_missing(session, cid), snap.conclusion)
    previous = _versions(session, cid)
    if previous:
        page = src.source(str(cid))["consultation"]
        if previous[-1].source_sha256 == rules.fingerprint(page.get("decision"), page.get("attachments", [])):
            raise Conflict("Ця версія звіту вже оприлюднена", code="already_published")
    session.execute(insert(publish_requests).values(
        consultation_id=cid, reason="decision" if previous else "publish", requested_by=actor.person_id)
        .on_conflict_do_nothing())
    return {"consultation_id": str(cid), "status": "queued", "next_version": len(previous) + 1}


def publish_due(session: Session, src: Sources, store, public_url: str) -> int:
    """Build the requested versions (any number of instances: SKIP LOCKED)."""
    done = 0
    for req in session.execute(select(publish_requests).order_by(publish_requests.c.requested_at).limit(5)
                               .with_for_update(skip_locked=True)).all():
        snap = _snapshot(session, req.consultation_id, lock=True)
        if snap is not None and snap.archived_at is None:
            with metrics.render_tracked():
                done += _build_version(session, src, store, snap, req.reason, req.requested_by, public_url) is not None
        session.execute(delete(publish_requests).where(publish_requests.c.consultation_id == req.consultation_id))
    return done


def on_decision(session: Session, cid: uuid.UUID) -> bool:
    """decision_published: a published report gets a new version with the decision (R-3.16, R-3.18),
    rendered by :func:`publish_due`; an unpublished one will carry it in version 1."""
    snap = _snapshot(session, cid, lock=True)
    if snap is None or not _versions(session, cid):
        return False
    session.execute(insert(publish_requests).values(consultation_id=cid, reason="decision").on_conflict_do_nothing())
    return True


def file_of(session: Session, actor: Principal | None, cid: uuid.UUID, fmt: str, version: int | None) -> dict:
    _visible(session, actor, cid)
    stmt = select(reports).where(reports.c.consultation_id == cid)
    stmt = stmt.where(reports.c.version == version) if version else stmt.order_by(reports.c.version.desc())
    row = session.execute(stmt.limit(1)).first()
    if row is None or fmt not in (row.files or {}):
        raise NotFound("Такої версії звіту немає", code="report_version_not_found")
    return {**row.files[fmt], "filename": f"report-{cid}-v{row.version}.{fmt}", "version": row.version}


def delete_report(session: Session, actor: Principal | None, cid: uuid.UUID, today: date) -> None:
    """Administrators may drop an unpublished draft report (e.g. to start again); published versions
    are immutable and an archived report is kept five years after the decision (R-1.11)."""
    if actor is None or not actor.has(Role.admin):
        raise Forbidden("Видаляє адміністратор", code="role_required")
    snap = _visible(session, actor, cid, lock=True)
    if snap.archived_at is not None and (snap.retain_until is None or snap.retain_until > today):
        raise Conflict(f"Архів зберігається до {snap.retain_until} (п. 1.11)", code="retention_period")
    if _versions(session, cid):
        raise Conflict("Оприлюднені версії звіту незмінні", code="published_versions_immutable")
    session.execute(delete(considerations).where(considerations.c.consultation_id == cid))
    session.execute(delete(snapshot_comments).where(snapshot_comments.c.consultation_id == cid))
    session.execute(delete(snapshot_participants).where(snapshot_participants.c.consultation_id == cid))
    session.execute(delete(snapshots).where(snapshots.c.consultation_id == cid))


# ---- the protocol (R-3.14) ------------------------------------------------------------------------

def _protocol_document(snap, full: bool) -> render.Document:
    counts = {"submitted": snap.comments_submitted, "published": snap.comments_published}
    columns = [("number", "№"), ("author_name", "Автор"), ("created_at", "Подано"), ("status", "Результат модерації"),
               ("target", "Щодо"), ("body", "Текст"), ("decided_at", "Рішення модерації")]
    if full:
        columns.append(("grounds", "Підстави відхилення (п. 3.7, 1.5)"))
    return render.Document(
        title=f"Протокол консультації «{snap.title}»",
        sections=[("Подані коментарі", [f"Усього подано: {snap.comments_submitted}; оприлюднено: "
                                        f"{snap.comments_published}"] + ([] if full else [
                                            "Публічна версія: відхилені та неопрацьовані коментарі не "
                                            "оприлюднюються (лише їх кількість)"]))],
        meta={"consultation_id": str(snap.consultation_id), "title": snap.title, "full": full, "counts": counts},
        columns=columns, formats=render.PROTOCOL_FORMATS, rows_title="Коментарі")


def _protocol_rows(session: Session, snap, full: bool) -> Iterator[dict]:
    target = _targets(snap)
    for r in _proposal_rows(session, snap, published_only=not full):
        yield {"number": r.seq, "author_name": r.author_name, "created_at": r.created_at.isoformat(timespec="seconds"),
               "status": STATUS_LABELS.get(r.status, r.status), "target": target(r.alternative_id, r.paragraph_id),
               "body": r.body, "decided_at": r.decided_at.isoformat(timespec="seconds") if r.decided_at else None,
               "grounds": r.grounds or None}


def protocol_files(session: Session, snap, store, full: bool) -> dict[str, dict]:
    return _store_files(store, _protocol_document(snap, full), _protocol_rows(session, snap, full), "protocol")


def protocol_file(session: Session, actor: Principal | None, store, cid: uuid.UUID, fmt: str) -> dict:
    """Every submitted comment with time, author and moderation outcome (grounds too) for the owning
    unit, moderators and administrators; the public version lists the published ones."""
    snap = _snapshot(session, cid)
    if snap is None:
        raise NotFound("Протоколу ще немає", code="protocol_not_found")
    full = insider(actor, snap)
    files = (snap.protocol or {}).get("full" if full else "public") or protocol_files(session, snap, store, full)
    if fmt not in files:
        raise NotFound("Такого формату немає", code="format_not_found")
    return {**files[fmt], "filename": f"protocol-{cid}{'' if full else '-public'}.{fmt}"}


# ---- the archive (R-1.11) -------------------------------------------------------------------------

def archive(session: Session, src: Sources, store, cid: uuid.UUID, archived_at: datetime,
            decision_date: date | None) -> str:
    """consultation_archived: read-only from now on, kept five years after the decision, and two zip
    bundles (materials, protocol, report versions, decision) with ``manifest.sha256``: the public
    one carries the public protocol (a rejected or pending comment is never public, R-3.9), the
    one for the owning unit, moderators and administrators the full protocol (R-3.14)."""
    if _snapshot(session, cid) is None:
        take_snapshot(session, src, cid, store=store)
    snap = _snapshot(session, cid, lock=True)
    if snap.bundle_sha256:
        return snap.bundle_sha256
    page = src.source(str(cid))["consultation"]
    protocol = snap.protocol or {}
    digest, text = _bundle(session, store, snap, page, protocol.get("public") or protocol_files(session, snap, store, False))
    full_digest, full_text = _bundle(session, store, snap, page,
                                     protocol.get("full") or protocol_files(session, snap, store, True))
    session.execute(update(snapshots).where(snapshots.c.consultation_id == cid).values(
        archived_at=archived_at, retain_until=rules.retain_until(decision_date, archived_at.date()),
        bundle_sha256=digest, manifest=text, full_bundle_sha256=full_digest, full_manifest=full_text))
    return digest


def _bundle(session: Session, store, snap, page: dict, protocol: dict[str, dict]) -> tuple[str, str]:
    """One zip in the file store; returns its SHA-256 and its manifest."""
    entries: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="econsult-bundle-") as tmp:
        path = os.path.join(tmp, "bundle.zip")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            def add(name: str, data: bytes) -> None:
                z.writestr(name, data)
                entries.append((name, rules.hashlib.sha256(data).hexdigest()))

            add("consultation.json", json.dumps(page, ensure_ascii=False, indent=1).encode())
            add("materials/manifest.json", json.dumps(page.get("attachments", []), ensure_ascii=False, indent=1).encode())
            for a in page.get("attachments", []):
                blob = store.get(a["sha256"])
                if blob is not None:
                    add(f"materials/{a['kind']}-{a['sha256'][:12]}-{rules.entry_name(a['filename'])}", blob)
            if page.get("decision"):
                add("decision.json", json.dumps(page["decision"], ensure_ascii=False, indent=1).encode())
            for fmt, f in protocol.items():
                add(f"protocol/protocol.{fmt}", store.get(f["sha256"]))
            for v in _versions(session, snap.consultation_id):
                for fmt, f in v.files.items():
                    blob = store.get(f["sha256"])
                    if blob is not None:
                        add(f"report/v{v.version}/report.{fmt}", blob)
            text = rules.manifest(entries)
            z.writestr("manifest.sha256", text)
        with open(path, "rb") as f:
            return store.put(f.read()), text


def bundle(session: Session, actor: Principal | None, cid: uuid.UUID) -> dict:
    """The full bundle for the insiders, the public one for everyone else."""
    snap = _snapshot(session, cid)
    if snap is None or not snap.bundle_sha256:
        raise NotFound("Архівного пакета немає", code="bundle_not_found")
    full = insider(actor, snap) and snap.full_bundle_sha256
    return {"sha256": snap.full_bundle_sha256 if full else snap.bundle_sha256,
            "manifest": snap.full_manifest if full else snap.manifest, "retain_until": snap.retain_until.isoformat(),
            "filename": f"consultation-{cid}{'' if full else '-public'}.zip", "content_type": "application/zip"}


# ---- statistics --------------------------------------------------------------------------------

def stats(session: Session, src: Sources, year: int, at: datetime) -> ReportStats:
    counts = src.year_counts(year)
    by_cat: dict[int, int] = {}
    by_status: dict[str, int] = {}
    for c in counts:
        by_cat[c["category"]] = by_cat.get(c["category"], 0) + c["count"]
        by_status[c["status"]] = by_status.get(c["status"], 0) + c["count"]
    first = (select(reports.c.consultation_id, func.min(reports.c.published_at).label("first"))
             .group_by(reports.c.consultation_id).subquery())
    considered = (select(considerations.c.consultation_id, func.count().label("n"))
                  .group_by(considerations.c.consultation_id).subquery())
    rows = session.execute(
        select(snapshots.c.consultation_id, snapshots.c.title, snapshots.c.category, snapshots.c.participants,
               snapshots.c.comments_published, snapshots.c.report_due, first.c.first, considered.c.n)
        .select_from(snapshots.outerjoin(first, first.c.consultation_id == snapshots.c.consultation_id)
                     .outerjoin(considered, considered.c.consultation_id == snapshots.c.consultation_id))
        .where(func.extract("year", snapshots.c.closed_at) == year).order_by(snapshots.c.closed_at)).all()
    per = []
    for r in rows:
        per.append({"consultation_id": str(r.consultation_id), "title": r.title, "category": r.category,
                    "participants": r.participants, "comments": r.comments_published,
                    "considered": r.n or 0, "report_published_at": r.first.isoformat() if r.first else None,
                    "deadline_met": r.first is not None and (r.report_due is None or r.first <= r.report_due),
                    "overdue": rules.overdue(r.report_due, r.first, at)})
    comments_total = sum(p["comments"] for p in per)
    return ReportStats(
        year=year, consultations_by_category=[{"category": k, "count": v} for k, v in sorted(by_cat.items())],
        consultations_by_status=[{"status": k, "count": v} for k, v in sorted(by_status.items())],
        closed=len(per), participants=sum(p["participants"] for p in per), comments=comments_total,
        proposals_considered_share=round(sum(p["considered"] for p in per) / comments_total, 4) if comments_total else 0.0,
        reports_published=sum(1 for p in per if p["report_published_at"]),
        deadlines_met=sum(1 for p in per if p["deadline_met"]),
        deadlines_missed=sum(1 for p in per if p["overdue"]), per_consultation=per)
