"""Attachments: the gateway checks each file (size, real content type) and keeps it in the file
store by its SHA-256; the consultations service keeps the metadata and decides who may see it."""
from __future__ import annotations

import uuid
from pathlib import PurePath

from flask import Response, current_app, request

from chassis.errors import InvalidInput, parse

from chassis.files import ALLOWED, sha256, sniff, store_from
from contracts.consultations import AttachmentMeta, AttachmentOut
from contracts.identity import Role
from gateway.clients import consultations as svc
from gateway.openapi import ApiSpec
from gateway.routes_consultations import actor


class UnsupportedFile(InvalidInput):
    status = 415
    default_code = "unsupported_file"


def store():
    if "file_store" not in current_app.extensions:
        current_app.extensions["file_store"] = store_from(current_app.config["SETTINGS"].file_store)
    return current_app.extensions["file_store"]


def save_upload(consultation_id: uuid.UUID, upload, kind: str, title: str | None) -> AttachmentOut:
    """Check an uploaded file from its bytes, store it by SHA-256 and attach it (the API's route and
    the officials' drafting page both come here)."""
    if upload is None or not upload.filename:
        raise InvalidInput("Додайте файл", errors=[{"field": "file", "message": "обов'язково"}])
    data = upload.read()
    limit = int(current_app.config["SETTINGS"].max_attachment_mb * 1024 * 1024)
    if len(data) > limit or not data:
        raise InvalidInput("Файл порожній або завеликий", code="file_size",
                           errors=[{"field": "file", "message": f"1 байт – {limit // (1024 * 1024)} МБ"}])
    real = sniff(data)
    if real is None:
        raise UnsupportedFile("Дозволено PDF, DOCX, XLSX, ODT, ODS, PNG, JPEG",
                              errors=[{"field": "file", "message": "непідтримуваний формат; дозволено PDF, "
                                                                  "DOCX, XLSX, ODT, ODS, PNG, JPEG"}])
    declared = (upload.mimetype or "").lower()
    if declared not in ("", "application/octet-stream", real):
        raise UnsupportedFile(f"Файл позначено як {declared}, а насправді це {real}", code="mislabelled_file",
                              errors=[{"field": "file", "message": f"тип не відповідає вмісту: позначено "
                                                                  f"{declared}, а насправді {real}"}])
    name = PurePath(upload.filename.replace("\\", "/")).name[:200] or "file"
    meta = {"kind": kind, "title": title or name, "filename": name, "content_type": real, "size": len(data),
            "sha256": sha256(data)}
    meta = parse(AttachmentMeta, meta)  # a name or title the service would refuse stores no blob
    store().put(data)
    return svc.add_attachment(actor(), consultation_id, meta)


def register(spec: ApiSpec):
    api = spec.blueprint("files", "/api/v1")

    @api.route("/consultations/<uuid:consultation_id>/attachments", "POST", summary="Attach a file "
               "(multipart/form-data: `file`, `title`, `kind` = material | decision | scan): PDF, DOCX, XLSX, "
               "ODT, ODS, PNG, JPEG up to MAX_ATTACHMENT_MB; the type is checked from the file's bytes; a `scan` "
               "(of a submission received offline) is seen by the owning unit and moderators only",
               response=AttachmentOut, status=201, tags=["consultations"], auth=(Role.official,),
               errors=(404, 409, 413, 415), description="Request body: multipart/form-data.")
    def attachments_create(consultation_id: uuid.UUID):
        return save_upload(consultation_id, request.files.get("file"), request.form.get("kind", "material"),
                           request.form.get("title")), 201

    @api.route("/consultations/<uuid:consultation_id>/attachments/<uuid:attachment_id>", summary="Download "
               "an attachment (its SHA-256 in the ETag and X-Content-SHA256)", tags=["consultations"],
               content_type="application/octet-stream", errors=(404,))
    def attachments_get(consultation_id: uuid.UUID, attachment_id: uuid.UUID):
        meta = svc.get_attachment(actor(), consultation_id, attachment_id)
        if request.if_none_match.contains(meta.sha256):
            return Response(status=304)
        data = store().get(meta.sha256)
        if data is None:
            raise InvalidInput("Файл тимчасово недоступний", code="blob_missing")
        ext = ALLOWED.get(meta.content_type, "")
        filename = meta.filename if meta.filename.endswith(ext) else meta.filename + ext
        return Response(data, content_type=meta.content_type, headers={
            "ETag": f'"{meta.sha256}"', "X-Content-SHA256": meta.sha256,
            "Content-Disposition": f"attachment; filename*=UTF-8''{_quote(filename)}"})

    return api


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


