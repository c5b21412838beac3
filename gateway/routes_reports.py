"""The R-3.16 report, its versions and considerations, the R-3.14 protocol, the R-1.11 archive
bundle and statistics (issue: Reports). Files come from the file store by their SHA-256; the reports
service decides who may see what (a report is public once published; before that only the owning
unit, moderators and administrators see it)."""
from __future__ import annotations

import uuid
from urllib.parse import quote

from flask import Response, request
from pydantic import BaseModel, ConfigDict, Field

from chassis.errors import NotFound
from contracts.common import PerPage, Year
from contracts.identity import Role
from contracts.reports import (CONTENT_TYPES, PROTOCOL_FORMATS, REPORT_FORMATS, BulkConsiderationIn,
                               ConclusionIn, Consideration, ConsiderationIn, GroupDetail, GroupPage, GroupSize,
                               Participation, ProposalPage, PublishQueued, ReportOut, ReportStats, SplitIn, StoredFile,
                               Updated, VersionList)
from gateway.clients import reports as svc
from gateway.openapi import ApiSpec
from gateway.routes_consultations import actor
from gateway.routes_files import store


class VersionQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int | None = Field(None, ge=1, le=10_000, description="a published version; the newest by default")


class ProposalQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000)
    per_page: PerPage = 50
    missing: bool = Field(False, description="only proposals without a consideration")


class GroupsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000)
    per_page: PerPage = 20
    min_size: GroupSize = 2


class MembersQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    page: int = Field(1, ge=1, le=100_000)
    per_page: PerPage = 50


class StatsQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    year: Year


# ---- the calls the API views and the web pages (gateway/web/views_reports.py) share ------------

def report_of(cid: uuid.UUID) -> ReportOut:
    return svc.get_report(actor(), cid)


def proposals_of(cid: uuid.UUID, query: ProposalQuery) -> ProposalPage:
    return svc.proposals(actor(), cid, query.page, query.per_page, query.missing)


def consider(cid: uuid.UUID, body: ConsiderationIn) -> Updated:
    return svc.consider(actor(), cid, body)


def consider_bulk(cid: uuid.UUID, body: BulkConsiderationIn) -> Updated:
    return svc.consider_bulk(actor(), cid, body)


def groups_of(cid: uuid.UUID, query: GroupsQuery) -> GroupPage:
    return svc.groups(actor(), cid, query.page, query.per_page, query.min_size)


def group_of(cid: uuid.UUID, group_id: uuid.UUID, query: MembersQuery) -> GroupDetail:
    return svc.group(actor(), cid, group_id, query.page, query.per_page)


def consider_group(cid: uuid.UUID, group_id: uuid.UUID, body: Consideration) -> Updated:
    return svc.consider_group(actor(), cid, group_id, body)


def split_group(cid: uuid.UUID, group_id: uuid.UUID, body: SplitIn) -> Updated:
    return svc.split_group(actor(), cid, group_id, body)


def set_conclusion(cid: uuid.UUID, body: ConclusionIn) -> ReportOut:
    return svc.set_conclusion(actor(), cid, body)


def publish(cid: uuid.UUID) -> PublishQueued:
    return svc.publish(actor(), cid)


def participation_of(cid: uuid.UUID) -> Participation:
    return svc.participation(actor(), cid)


def take_snapshot(cid: uuid.UUID) -> ReportOut:
    return svc.take_snapshot(actor(), cid)


def file_url(cid: uuid.UUID, fmt: str, version: int | None = None) -> str:
    """Where a report (``REPORT_FORMATS``) or, with ``fmt`` ``protocol.<f>``, the protocol is served."""
    if fmt.startswith("protocol."):
        f = fmt.split(".", 1)[1]
        return f"/api/v1/consultations/{cid}/protocol" + ("" if f == "json" else f".{f}")
    return f"/api/v1/consultations/{cid}/report.{fmt}" + (f"?version={version}" if version else "")


def send(meta: StoredFile) -> Response:
    """A stored file with its SHA-256 (ETag, X-Content-SHA256), so anyone can check a download."""
    digest = meta.sha256
    if request.if_none_match.contains(digest):
        return Response(status=304)
    data = store().get(digest)
    if data is None:
        raise NotFound("Файл тимчасово недоступний", code="blob_missing")
    return Response(data, content_type=meta.content_type, headers={
        "ETag": f'"{digest}"', "X-Content-SHA256": digest,
        "Content-Disposition": f"inline; filename*=UTF-8''{quote(meta.filename, safe='')}"})


def register(spec: ApiSpec):
    api = spec.blueprint("reports", "/api/v1")
    base = "/consultations/<uuid:consultation_id>"

    @api.route(base + "/report", summary="The R-3.16 report: status, counts, representativeness, conclusion "
               "and its published versions with their files (404 before publication unless the caller is "
               "of the owning unit, a moderator or an administrator)", response=ReportOut, tags=["reports"],
               errors=(404,))
    def report_get(consultation_id: uuid.UUID):
        return report_of(consultation_id)

    def report_file_route(fmt: str):
        def report_file(consultation_id: uuid.UUID, query: VersionQuery):
            return send(svc.report_file(actor(), consultation_id, fmt, query.version))
        report_file.__name__ = f"report_file_{fmt}"
        api.route(base + f"/report.{fmt}", summary=f"The report as {fmt.upper()} (a published version, the newest "
                  "by default); its SHA-256 in ETag and X-Content-SHA256", query=VersionQuery, tags=["reports"],
                  content_type=CONTENT_TYPES[fmt].split(";")[0], errors=(404,))(report_file)

    for fmt in REPORT_FORMATS:
        report_file_route(fmt)

    @api.route(base + "/report/versions", summary="Published versions of the report (immutable; the "
               "decision makes a new one)", response=VersionList, tags=["reports"], errors=(404,))
    def report_versions(consultation_id: uuid.UUID):
        return svc.list_versions(actor(), consultation_id)

    @api.route(base + "/report/considerations", summary="Every proposal (published comment) with its "
               "consideration; `missing=true` lists those still without one", query=ProposalQuery,
               response=ProposalPage, tags=["reports"], errors=(404,))
    def considerations_get(consultation_id: uuid.UUID, query: ProposalQuery):
        return proposals_of(consultation_id, query)

    @api.route(base + "/report/considerations", "PUT", summary="Consider one proposal: accepted, "
               "partly_accepted or not_accepted (the last two need a justification, R-3.16)",
               body=ConsiderationIn, response=Updated, tags=["reports"], auth=(Role.official,),
               errors=(403, 404, 409))
    def considerations_put(consultation_id: uuid.UUID, body: ConsiderationIn):
        return consider(consultation_id, body)

    @api.route(base + "/report/considerations/bulk", "PUT", summary="One consideration for many proposals "
               "that say the same", body=BulkConsiderationIn, response=Updated, tags=["reports"],
               auth=(Role.official,), errors=(403, 404, 409))
    def considerations_bulk(consultation_id: uuid.UUID, body: BulkConsiderationIn):
        return consider_bulk(consultation_id, body)

    @api.route(base + "/report/groups", summary="Groups of near-identical proposals (normalised text, MinHash/LSH, "
               "verified Jaccard ≥ 0.85), the largest first: representative, count, authors, considerations",
               query=GroupsQuery, response=GroupPage, tags=["reports"], errors=(404,))
    def groups_get(consultation_id: uuid.UUID, query: GroupsQuery):
        return groups_of(consultation_id, query)

    @api.route(base + "/report/groups/<uuid:group_id>", summary="One group: representative, authors and a page of "
               "its members with what each changes in the representative's text", query=MembersQuery,
               response=GroupDetail, tags=["reports"], errors=(404,))
    def group_get(consultation_id: uuid.UUID, group_id: uuid.UUID, query: MembersQuery):
        return group_of(consultation_id, group_id, query)

    @api.route(base + "/report/groups/<uuid:group_id>/consideration", "PUT", summary="One consideration for "
               "every member of the group, stored for each proposal (R-3.16)", body=Consideration,
               response=Updated, tags=["reports"], auth=(Role.official,), errors=(403, 404, 409))
    def group_consider(consultation_id: uuid.UUID, group_id: uuid.UUID, body: Consideration):
        return consider_group(consultation_id, group_id, body)

    @api.route(base + "/report/groups/<uuid:group_id>/split", "POST", summary="Take a member out of its group, "
               "to be considered alone (422 if it is not a member)", body=SplitIn, response=Updated,
               tags=["reports"], auth=(Role.official,), errors=(403, 404, 409))
    def group_split(consultation_id: uuid.UUID, group_id: uuid.UUID, body: SplitIn):
        return split_group(consultation_id, group_id, body)

    @api.route(base + "/report/conclusion", "PUT", summary="The generalised conclusion of the report",
               body=ConclusionIn, response=ReportOut, tags=["reports"], auth=(Role.official,),
               errors=(403, 404, 409))
    def conclusion_put(consultation_id: uuid.UUID, body: ConclusionIn):
        return set_conclusion(consultation_id, body)

    @api.route(base + "/report/publish", "POST", summary="Publish the report: refused (422, naming the count "
               "and ids) while any proposal lacks a consideration or the conclusion is missing; accepted (202) "
               "otherwise, the version appears in …/report/versions once its files are rendered; after the "
               "decision, a new version", response=PublishQueued, status=202, tags=["reports"],
               auth=(Role.official,), errors=(403, 404, 409))
    def report_publish(consultation_id: uuid.UUID):
        return publish(consultation_id), 202

    @api.route(base + "/report/snapshot", "POST", summary="Take the report's snapshot again (consultations "
               "closed before the reports service existed); refused once published", response=ReportOut,
               tags=["reports"], auth=(Role.official, Role.admin), errors=(403, 404, 409))
    def report_snapshot(consultation_id: uuid.UUID):
        return take_snapshot(consultation_id)

    @api.route(base + "/report", "DELETE", summary="Administrators drop an unpublished draft report; refused "
               "for published versions and for five years after the decision once archived (R-1.11)",
               status=204, tags=["reports"], auth=(Role.admin,), errors=(404, 409))
    def report_delete(consultation_id: uuid.UUID):
        svc.delete_report(actor(), consultation_id)
        return Response(status=204)

    def protocol_route(fmt: str):
        def protocol(consultation_id: uuid.UUID):
            return send(svc.protocol_file(actor(), consultation_id, fmt))
        protocol.__name__ = f"protocol_{fmt}"
        rule = base + ("/protocol" if fmt == "json" else f"/protocol.{fmt}")
        api.route(rule, summary=f"The R-3.14 protocol ({fmt.upper()}): every submitted comment with time, author "
                  "and moderation outcome for the owning unit and moderators; the published ones for everyone",
                  tags=["reports"], content_type=CONTENT_TYPES[fmt].split(";")[0], errors=(404,))(protocol)

    for fmt in PROTOCOL_FORMATS:
        protocol_route(fmt)

    @api.route(base + "/archive/bundle.zip", summary="The archive bundle (R-1.11): materials, protocol, report "
               "versions, decision and manifest.sha256; the full protocol for the owning unit, moderators and "
               "administrators, the public one (published comments) for everyone else", tags=["reports"], content_type="application/zip",
               errors=(404,))
    def bundle_zip(consultation_id: uuid.UUID):
        return send(svc.bundle(actor(), consultation_id))

    @api.route(base + "/archive/manifest.sha256", summary="The bundle's manifest: `sha256sum -c manifest.sha256` "
               "in the unpacked bundle checks every file", tags=["reports"], content_type="text/plain",
               errors=(404,))
    def bundle_manifest(consultation_id: uuid.UUID):
        meta = svc.bundle(actor(), consultation_id)
        return Response(meta.manifest, mimetype="text/plain", headers={"X-Bundle-SHA256": meta.sha256})

    @api.route(base + "/participation", summary="Who has taken part so far, for the owning unit while the "
               "consultation is active: persons by age band and first time or returning, respondents by type and "
               "channel, each against the community's share (COMMUNITY_SHARES); counts from 1 to "
               "PARTICIPATION_MIN_CELL − 1 withheld (R-3.12); hidden from everyone else (404)",
               response=Participation, tags=["reports"], auth=(Role.official,), errors=(403, 404, 409))
    def participation(consultation_id: uuid.UUID):
        return participation_of(consultation_id)

    @api.route(base + "/pack.pdf", summary="The printable consultation pack: the information notice, the "
               "question and alternatives or the draft act with its paragraph numbers, and a form to fill in by "
               "hand (PDF, Ukrainian text searchable); for whoever may see the consultation (404 otherwise)",
               tags=["consultations"], content_type="application/pdf", errors=(404,))
    def consultation_pack(consultation_id: uuid.UUID):
        return send(svc.consultation_pack(actor(), consultation_id))

    @api.route("/reports/stats", summary="Statistics of a year: consultations by category and status, "
               "participants, comments, share considered, report deadlines met (R-3.17)", query=StatsQuery,
               response=ReportStats, tags=["reports"])
    def reports_stats(query: StatsQuery):
        return svc.stats(query.year)

    return api
