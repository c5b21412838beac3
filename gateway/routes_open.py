"""Openness (R-1.4, R-1.7) and the annual plan (R-3.3): Atom feeds of published consultations (all
and per category), iCalendar feeds of consultation terms and of the plan, open data (JSON, CSV)."""
from __future__ import annotations

import csv
import io
import logging
import uuid
from datetime import date, datetime, time, timedelta, timezone

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from flask import Response, current_app
from icalendar import Calendar, Event
from pydantic import BaseModel, ConfigDict, Field

from chassis.text import csv_safe
from contracts.consultations import (CATEGORIES, STATUS_LABELS, Plan, PlanEntryIn, PlanEntryOut,
                                     PlanEntryPatch, ConsultationSummary)
from contracts.identity import Role
from gateway import auth
from gateway.clients import consultations as svc
from gateway.openapi import ApiSpec
from gateway.routes_consultations import actor

QUARTER_START = {1: 1, 2: 4, 3: 7, 4: 10}
log = logging.getLogger(__name__)


class FeedQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: int | None = Field(None, ge=1, le=22)


class Catalogue(BaseModel):
    items: list[ConsultationSummary]


def public_url() -> str:
    return current_app.config["SETTINGS"].public_url.rstrip("/")


def catalogue(category: int | None = None) -> list[ConsultationSummary]:
    items = svc.public_catalogue()
    return [c for c in items if category is None or c.category == category]


def calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Електронні консультації з громадськістю//UK")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def ics(cal: Calendar, filename: str) -> Response:
    return Response(cal.to_ical(), mimetype="text/calendar",
                    headers={"Content-Disposition": f"inline; filename={filename}"})


def rendered(build, feed: str, item_id):
    """One item of a feed, built; one that cannot be (a date out of range in an old row) is left
    out and logged (None), and the feed still answers for everyone."""
    try:
        return build()
    except (ValueError, OverflowError, TypeError) as exc:
        log.warning("%s feed: item %s left out (%s)", feed, item_id, type(exc).__name__)
        return None


def plan_add(year: int, body: PlanEntryIn) -> PlanEntryOut:
    """An official's entry for their unit, or an eligible person's proposal (API and web pages)."""
    principal = auth.require_consent()
    if not principal.has(Role.official):
        auth.require_eligible()
    return svc.plan_add(actor(), year, body)


def register(spec: ApiSpec):
    api = spec.blueprint("open", "/api/v1")

    @api.route("/feeds/consultations.atom", summary="Atom feed of published consultations (optionally "
               "of one category)", query=FeedQuery, tags=["open data"], content_type="application/atom+xml")
    def feed_atom(query: FeedQuery):
        fg = FeedGenerator()
        suffix = f"?category={query.category}" if query.category else ""
        fg.id(f"{public_url()}/api/v1/feeds/consultations.atom{suffix}")
        fg.title("Електронні консультації з громадськістю"
                 + (f": {CATEGORIES[query.category]}" if query.category else ""))
        fg.language("uk")
        fg.link(href=f"{public_url()}/api/v1/feeds/consultations.atom{suffix}", rel="self")
        fg.link(href=public_url(), rel="alternate")
        fg.updated(datetime.now(timezone.utc))
        def atom_entry(c: ConsultationSummary) -> FeedEntry:
            entry = FeedEntry()
            url = f"{public_url()}/consultations/{c.id}"
            entry.id(url)
            entry.title(c.title)
            entry.link(href=url)
            entry.category(term=str(c.category), label=CATEGORIES[c.category])
            entry.summary(f"{c.question}\n\nСтатус: {STATUS_LABELS[c.status.value]}; "
                          f"строк: {c.starts_on} – {c.ends_on}")
            entry.updated(c.published_at or datetime.now(timezone.utc))
            entry.atom_entry()
            return entry

        for c in reversed(catalogue(query.category)[:100]):
            entry = rendered(lambda: atom_entry(c), "atom", c.id)
            if entry is not None:
                fg.add_entry(entry)
        return Response(fg.atom_str(pretty=True), mimetype="application/atom+xml")

    @api.route("/feeds/consultations.ics", summary="iCalendar of consultation terms", tags=["open data"],
               content_type="text/calendar")
    def feed_ics():
        cal = calendar("Електронні консультації: строки")
        def term_event(c: ConsultationSummary) -> Event:
            ev = Event()
            ev.add("uid", f"consultation-{c.id}@econsult")
            ev.add("summary", f"Консультація: {c.title}")
            ev.add("description", c.question)
            ev.add("dtstart", c.starts_on)
            ev.add("dtend", c.ends_on + timedelta(days=1))  # all-day events end exclusively
            ev.add("dtstamp", datetime.now(timezone.utc))
            ev.add("url", f"{public_url()}/consultations/{c.id}")
            ev.to_ical()
            return ev

        for c in catalogue():
            if not (c.starts_on and c.ends_on):
                continue
            ev = rendered(lambda: term_event(c), "ics", c.id)
            if ev is not None:
                cal.add_component(ev)
        return ics(cal, "consultations.ics")

    @api.route("/open-data/consultations.json", summary="Open data: every public consultation (JSON)",
               response=Catalogue, tags=["open data"])
    def open_json():
        return Catalogue(items=catalogue())

    @api.route("/open-data/consultations.csv", summary="Open data: every public consultation (CSV, UTF-8)",
               tags=["open data"], content_type="text/csv")
    def open_csv():
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["id", "url", "form", "title", "category", "category_title", "status", "unit",
                         "starts_on", "ends_on", "question"])
        for c in catalogue():
            writer.writerow([c.id, f"{public_url()}/consultations/{c.id}", c.form.value, csv_safe(c.title), c.category,
                             CATEGORIES[c.category], c.status.value, csv_safe(c.unit_name or ""), c.starts_on or "",
                             c.ends_on or "", csv_safe(c.question)])
        return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                        headers={"Content-Disposition": "attachment; filename=consultations.csv"})

    # ---- the annual indicative plan (R-3.3) ------------------------------------------------------
    @api.route("/plan/<int:year>", summary="The annual indicative plan of consultations (R-3.3)",
               response=Plan, tags=["plan"], errors=(422,))
    def plan_get(year: int):
        return svc.plan(actor(), year)

    @api.route("/plan/<int:year>/entries", "POST", summary="An official adds an entry for their unit; "
               "residents, institutions and bodies propose one", body=PlanEntryIn, response=PlanEntryOut,
               status=201, tags=["plan"], auth="consent")
    def plan_entry_add(year: int, body: PlanEntryIn):
        return plan_add(year, body), 201

    @api.route("/plan/entries/<uuid:entry_id>", "PATCH", summary="Officials take a proposal into the plan, "
               "decline it, cancel an entry or link the consultation held", body=PlanEntryPatch,
               response=PlanEntryOut, tags=["plan"], auth=(Role.official,), errors=(404,))
    def plan_change(entry_id: uuid.UUID, body: PlanEntryPatch):
        return svc.plan_change(actor(), entry_id, body)

    @api.route("/plan/<int:year>.ics", summary="iCalendar of the annual plan (each entry in its quarter)",
               tags=["plan"], content_type="text/calendar", errors=(422,))
    def plan_ics(year: int):
        plan = svc.plan(None, year)
        cal = calendar(f"План консультацій {year}")
        for e in plan.items:
            if e.planned_quarter is None:
                continue
            start = date(year, QUARTER_START[e.planned_quarter], 1)
            end = date(year + 1, 1, 1) if e.planned_quarter == 4 else date(year, QUARTER_START[e.planned_quarter + 1], 1)
            ev = Event()
            ev.add("uid", f"plan-{e.id}@econsult")
            ev.add("summary", f"План: {e.title}")
            ev.add("dtstart", start)
            ev.add("dtend", end)
            ev.add("dtstamp", datetime.combine(start, time(0), timezone.utc))
            cal.add_component(ev)
        return ics(cal, f"plan-{year}.ics")

    return api
