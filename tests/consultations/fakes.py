"""The consultations store in memory (the methods of ``services.consultations.store.Store`` the
handlers use, but the full-text listing)."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

from contracts.consultations import PUBLIC_STATUSES, MyInitiative, Status
from services.consultations import drafts
from tests.support.fakes import MemoryStore

CONSULTATION_COLUMNS = ("id", "title", "form", "category", "status", "question", "unit_id", "unit_name", "owner_id",
                        "initiator_id", "initiator_name", "notice", "starts_on", "ends_on", "published_at",
                        "opened_at", "closed_at", "outcome", "moderation_due", "report_due",
                        "report_published_at", "archived_at", "created_at", "updated_at")
PUBLIC = {s.value for s in PUBLIC_STATUSES}


class Row(SimpleNamespace):
    def _asdict(self) -> dict:
        return dict(vars(self))


def now() -> datetime:
    return datetime.now(timezone.utc)


class FakeStore(MemoryStore):
    def __init__(self):
        super().__init__()
        self.consultations: dict[uuid.UUID, Row] = {}
        self.history: list[Row] = []
        self.alts: list[Row] = []
        self.qs: list[Row] = []
        self.opts: list[Row] = []
        self.versions: list[Row] = []
        self.paras: dict[uuid.UUID, list[drafts.Paragraph]] = {}
        self.comments: dict[uuid.UUID, dict] = {}
        self.answers: dict[tuple, Row] = {}
        self.supports: dict[tuple, uuid.UUID] = {}
        self.answering_for: dict[tuple, dict] = {}
        self.decisions: dict[uuid.UUID, Row] = {}
        self.files: list[Row] = []
        self.plan: dict[uuid.UUID, Row] = {}

    # consultations and their history
    def consultation(self, cid, lock=False):
        return self.consultations.get(cid)

    def add_consultation(self, **values):
        row = Row(**dict.fromkeys(CONSULTATION_COLUMNS))
        vars(row).update(values, created_at=now(), updated_at=now())
        self.consultations[values["id"]] = row

    def update_consultation(self, cid, **values):
        vars(self.consultations[cid]).update(values, updated_at=now())

    def mark_published(self, cid):
        self.update_consultation(cid, status=Status.scheduled.value, published_at=now())

    def mark_open(self, cid):
        self.update_consultation(cid, status=Status.active.value, opened_at=now())
        return self.consultations[cid]

    def mark_closed(self, cid, report_due):
        self.update_consultation(cid, status=Status.closed.value, closed_at=now(), report_due=report_due)

    def mark_archived(self, cid):
        self.update_consultation(cid, status=Status.archived.value, archived_at=now())

    def move(self, cid, expect, new, **values):
        row = self.consultations.get(cid)
        if row is None or row.status != expect.value:
            return None
        self.update_consultation(cid, status=new.value, **values)
        return row

    def mark_report_published(self, cid, at):
        row = self.consultations.get(cid)
        if row is None or row.report_published_at is not None:
            return False
        row.report_published_at = at
        return True

    def add_history(self, cid, old, new, actor_id, note=None):
        self.history.append(Row(consultation_id=cid, from_status=old, to_status=new.value, actor_id=actor_id,
                                note=note, at=now()))

    def public_history(self, cid):
        return [h for h in self.history if h.consultation_id == cid and h.to_status in PUBLIC]

    def due_to_open(self, today, batch):
        return [c.id for c in self.consultations.values()
                if c.status == Status.scheduled.value and c.starts_on <= today][:batch]

    def due_to_close(self, today, batch):
        return [c for c in self.consultations.values() if c.status == Status.active.value and c.ends_on < today][:batch]

    # alternatives and questions
    def replace_alternatives(self, cid, texts):
        self.alts = [a for a in self.alts if a.consultation_id != cid]
        self.alts += [Row(id=uuid.uuid4(), consultation_id=cid, position=i + 1, text=t) for i, t in enumerate(texts)]

    def replace_questions(self, cid, items):
        gone = {q.id for q in self.qs if q.consultation_id == cid}
        self.qs = [q for q in self.qs if q.id not in gone]
        self.opts = [o for o in self.opts if o.question_id not in gone]
        for i, q in enumerate(items):
            qid = uuid.uuid4()
            self.qs.append(Row(id=qid, consultation_id=cid, position=i + 1, text=q.text, kind=q.kind.value))
            self.opts += [Row(id=uuid.uuid4(), question_id=qid, position=j + 1, text=o.strip())
                          for j, o in enumerate(q.options or [])]

    def alternatives(self, cid):
        return [Row(id=a.id, position=a.position, text=a.text) for a in self.alts if a.consultation_id == cid]

    def count_alternatives(self, cid):
        return len(self.alternatives(cid))

    def count_questions(self, cid):
        return sum(1 for q in self.qs if q.consultation_id == cid)

    def has_alternative(self, cid, alternative_id):
        return any(a.id == alternative_id and a.consultation_id == cid for a in self.alts)

    def questions(self, cid):
        qs = [q for q in self.qs if q.consultation_id == cid]
        ids = {q.id for q in qs}
        return qs, [o for o in self.opts if o.question_id in ids]

    # draft versions
    def current_version(self, cid):
        mine = [v for v in self.versions if v.consultation_id == cid]
        return max(mine, key=lambda v: v.number) if mine else None

    def paragraphs(self, version_id):
        return list(self.paras.get(version_id, []))

    def add_version(self, version_id, cid, number, note):
        self.versions.append(Row(id=version_id, consultation_id=cid, number=number, note=note))

    def set_paragraphs(self, version_id, items, replace):
        self.paras[version_id] = list(items)

    def version_ids(self, cid, numbers):
        return {v.number: v.id for v in self.versions if v.consultation_id == cid and v.number in numbers}

    def published_per_paragraph(self, cid):
        counts: dict = {}
        for c in self.comments.values():
            if c["consultation_id"] == cid and c["status"] == "published" and c["paragraph_id"]:
                counts[c["paragraph_id"]] = counts.get(c["paragraph_id"], 0) + 1
        return counts

    # attachments and decisions
    def attachments(self, cid):
        return [f for f in self.files if f.consultation_id == cid]

    def attachment(self, cid, attachment_id):
        return next((f for f in self.files if f.id == attachment_id and f.consultation_id == cid), None)

    def add_attachment(self, cid, uploaded_by, meta):
        row = Row(id=uuid.uuid4(), consultation_id=cid, uploaded_by=uploaded_by, uploaded_at=now(), **meta)
        self.files.append(row)
        return row

    def decision(self, cid):
        return self.decisions.get(cid)

    def has_decision(self, cid):
        return cid in self.decisions

    def add_decision(self, cid, recorded_by, publication_due, **values):
        self.decisions[cid] = Row(consultation_id=cid, recorded_by=recorded_by, publication_due=publication_due,
                                  recorded_at=now(), **values)
        return self.decisions[cid]

    def decision_adopted_on(self, cid):
        return self.decisions[cid].adopted_on if cid in self.decisions else None

    def initiatives_of(self, person_id, limit=500):
        rows = sorted((c for c in self.consultations.values() if c.initiator_id == person_id),
                      key=lambda c: c.created_at, reverse=True)
        return [Row(**{k: getattr(c, k) for k in MyInitiative.model_fields}) for c in rows[:limit]]

    # the gateway's write limits
    def count_hits(self, pairs):
        hits = self.__dict__.setdefault("hits", {})
        for pair in pairs:
            hits[pair] = hits.get(pair, 0) + 1
        return [hits[pair] for pair in pairs]

    def forget_windows_before(self, cutoff):
        pass

    # comments
    def serialise_author(self, cid, author_id):
        pass

    def fingerprints_of(self, author_id):
        return [(c["consultation_id"], c.get("fingerprint"), None if c.get("fingerprint") else c["body"])
                for c in self.comments.values() if c["author_id"] == author_id]

    def offline_bodies(self, cid, author_name):
        return [c["body"] for c in self.comments.values() if c["consultation_id"] == cid
                and c.get("channel", "web") != "web" and c["author_name"].lower() == author_name.lower()]

    def add_comment(self, published=False, **values):
        values.setdefault("channel", "web")
        row = dict(values, status="published" if published else "pending", created_at=now(),
                   decided_at=now() if published else None, rejection_grounds=None, rejection_note=None)
        self.comments[values["id"]] = row
        return dict(row)

    def comment_page(self, cid, viewer, page, per_page, newest_first, alternative_id, paragraph_id):
        rows = [c for c in self.comments.values() if c["consultation_id"] == cid
                and (c["status"] == "published" or (viewer is not None and viewer in (c["author_id"],
                                                                                     c.get("entered_by"))))
                and (alternative_id is None or c["alternative_id"] == alternative_id)
                and (paragraph_id is None or c["paragraph_id"] == paragraph_id)]
        rows.sort(key=lambda c: c["created_at"], reverse=newest_first)
        return len(rows), [dict(c) for c in rows[(page - 1) * per_page:page * per_page]]

    def count_published(self, cid):
        return sum(1 for c in self.comments.values() if c["consultation_id"] == cid and c["status"] == "published")

    def comments_by(self, author_id, limit=500):
        return [dict(c) for c in self.comments.values() if c["author_id"] == author_id][:limit]

    def publish_comment(self, comment_id):
        c = self.comments.get(comment_id)
        if c is None or c["status"] != "pending":
            return None
        c.update(status="published", decided_at=now())
        return Row(consultation_id=c["consultation_id"], author_id=c["author_id"])

    def reject_comment(self, comment_id, grounds, note):
        c = self.comments.get(comment_id)
        if c is None or c["status"] == "rejected":
            return None
        c.update(status="rejected", decided_at=now(), rejection_grounds=grounds, rejection_note=note)
        return Row(consultation_id=c["consultation_id"], author_id=c["author_id"])

    # answers and support
    def put_answer(self, cid, question_id, person_id, option_ids, text):
        self.answers[question_id, person_id] = Row(consultation_id=cid, option_ids=option_ids, text=text)

    def put_support(self, cid, person_id, alternative_id):
        self.supports[cid, person_id] = alternative_id

    def set_answering_for(self, cid, person_id, organisation):
        self.answering_for[cid, person_id] = dict(organisation)

    def respondent_breakdown(self, cid):
        """Respondents by type and channel, as ``Store.respondent_breakdown`` counts them."""
        voices = {(c.get("organisation_id") or c["author_id"] or c["author_name"].lower(), c.get("organisation_kind") or "private",
                   c.get("channel", "web"))
                  for c in self.comments.values() if c["consultation_id"] == cid and c["status"] == "published"}
        people = {p for (_, p), a in self.answers.items() if a.consultation_id == cid}
        people |= {p for (c, p) in self.supports if c == cid}
        for p in people:
            org = self.answering_for.get((cid, p), {})
            voices.add((org.get("organisation_id") or p, org.get("organisation_kind") or "private", "web"))
        by_type: dict = {}
        by_channel: dict = {}
        for kind in {k for _, k, _ in voices}:
            by_type[kind] = len({v for v, k, _ in voices if k == kind})
        for channel in {ch for _, _, ch in voices}:
            by_channel[channel] = len({v for v, _, ch in voices if ch == channel})
        return {"by_type": by_type, "by_channel": by_channel}

    def tallies(self, cid):
        options: dict = {}
        respondents: dict = {}
        for (qid, _), a in self.answers.items():
            if a.consultation_id == cid:
                respondents[qid] = respondents.get(qid, 0) + 1
                for o in a.option_ids:
                    options[o] = options.get(o, 0) + 1
        people = {p for (_, p), a in self.answers.items() if a.consultation_id == cid}
        people |= {p for (c, p) in self.supports if c == cid}
        return {"alternatives": [(a.id, a.text, sum(1 for (c, _), alt in self.supports.items() if alt == a.id))
                                 for a in self.alts if a.consultation_id == cid],
                "options": options, "respondents": respondents, "participants": len(people)}

    def closing_counts(self, cid):
        by_status = {"pending": 0, "published": 0, "rejected": 0}
        for c in self.comments.values():
            if c["consultation_id"] == cid:
                by_status[c["status"]] += 1
        return {"comments": by_status, "respondents": self.tallies(cid)["participants"]}

    # deadlines
    def deadline_rows(self, units):
        mine = [c for c in self.consultations.values() if units is None or c.unit_id in units]
        return {"moderation": [] if units is not None else
                [c for c in self.consultations.values() if c.moderation_due is not None],
                "report": [c for c in mine if c.report_due is not None],
                "decision": [Row(id=c.id, title=c.title, unit_name=c.unit_name,
                                 publication_due=self.decisions[c.id].publication_due,
                                 recorded_at=self.decisions[c.id].recorded_at) for c in mine if c.id in self.decisions]}

    # the annual plan
    def add_plan_entry(self, **values):
        row = Row(**{"consultation_id": None, "planned_quarter": None, "note": None, "created_at": now(), **values})
        self.plan[row.id] = row
        return row

    def plan_entry(self, entry_id, lock=False):
        return self.plan.get(entry_id)

    def update_plan_entry(self, entry_id, **values):
        vars(self.plan[entry_id]).update(values)

    def plan_of_year(self, year, statuses, everything_proposed, proposer):
        seen = [e for e in self.plan.values() if e.year == year and (
            e.status in statuses or (everything_proposed and e.status in ("proposed", "declined"))
            or (proposer is not None and e.proposed_by == proposer))]
        return sorted(seen, key=lambda e: (e.planned_quarter is None, e.planned_quarter or 0, e.title))

    def consultations_among(self, ids):
        return [self.consultations[i] for i in ids if i in self.consultations]

