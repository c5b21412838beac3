"""RPC methods are declared once in contracts/ (chassis/rpc_contract.py): the typed client, the
service-side validation and docs/rpc.json all come from that declaration, and the services agree
with it. Needs neither RabbitMQ nor PostgreSQL."""
from __future__ import annotations

import inspect
import json
import uuid
from datetime import date
from pathlib import Path

import pytest

from chassis import rpc_contract
from chassis.app import service_class
from chassis.errors import InvalidInput
from contracts.consultations import (CommentIn, CommentOut, ConsultationPatch, Consultations, ReportSource,
                                     Status)
from contracts.identity import Eligibility, Principal
from contracts.moderation import Moderation, QueueQuery
from contracts.notifications import Notifications
from contracts.registry import Registry
from contracts.reports import Reports

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "rpc.json"
DECLARED = (Consultations, Moderation, Notifications, Registry, Reports)
CHASSIS_METHODS = {"health", "export_person"}  # every service's, from chassis.service.BaseService

PERSON = Principal(person_id=uuid.uuid4(), full_name="Шевчук Оксана", roles=[],
                   eligibility=Eligibility(eligible=True, reasons=[]), consent_given=True)


class Recorder:
    """A transport that records what would go on the wire and answers ``reply``."""

    def __init__(self, reply=None):
        self.sent, self.reply = [], reply

    def __call__(self, service, method, *args):
        self.sent.append((service, method, args))
        return self.reply


def test_catalogue_on_disk_is_what_the_declarations_generate():
    assert DOC.read_text(encoding="utf-8") == rpc_contract.render(), "docs/rpc.json is stale: run `make rpc-doc`"
    doc = json.loads(DOC.read_text(encoding="utf-8"))
    assert set(doc["services"]) == {c.service for c in DECLARED}
    add = doc["services"]["consultations"]["add_comment"]
    assert [p["name"] for p in add["params"]] == ["actor", "consultation_id", "body", "buckets"]
    assert add["params"][3]["default"] is None  # optional: a caller without it is not counted there
    assert add["returns"] == {"$ref": "#/$defs/CommentOut"} and "CommentIn" in doc["$defs"]


def test_check_mode_fails_on_a_stale_catalogue(tmp_path):
    stale = tmp_path / "rpc.json"
    stale.write_text("{}\n", encoding="utf-8")
    assert rpc_contract.main(["--check", str(stale)]) == 1
    assert rpc_contract.main(["--check", str(DOC)]) == 0


@pytest.mark.parametrize("contract", DECLARED, ids=lambda c: c.service)
def test_each_service_serves_exactly_what_its_contract_declares(contract):
    cls = service_class(contract.service)
    served = {name for name, fn in inspect.getmembers(cls, inspect.isfunction) if hasattr(fn, "rpc_method")}
    rpc_methods = {name for name, fn in inspect.getmembers(cls, inspect.isfunction)
                   if any(type(e).__name__ == "Rpc" for e in getattr(fn, "nameko_entrypoints", ()))}
    assert served == set(contract.methods), "declared but not decorated with serves, or the other way round"
    assert rpc_methods - CHASSIS_METHODS == served, "an @rpc method without a declaration in contracts/"
    for name, method in contract.methods.items():
        params = list(inspect.signature(getattr(cls, name)).parameters.values())[1:]
        assert [p.name for p in params] == [p.name for p in method.params], f"{contract.service}.{name}"
        assert [p.default for p in params] == [p.default for p in method.params], f"{contract.service}.{name}"


def test_every_service_declares_its_rpc_methods():
    from chassis.app import SERVICES

    assert {c.service for c in DECLARED} == set(rpc_contract.CONTRACTS) == set(SERVICES)


def test_client_puts_on_the_wire_what_the_services_read():
    wire = Recorder(reply={"id": str(uuid.uuid4()), "consultation_id": str(uuid.uuid4()), "author_name": "Ш",
                           "alternative_id": None, "body": "Пропозиція", "status": "pending",
                           "created_at": "2026-11-30T10:00:00Z"})
    cid = uuid.uuid4()
    out = Consultations(wire).add_comment(PERSON, cid, CommentIn(body="Пропозиція щодо освітлення"))
    (service, method, args), = wire.sent
    assert (service, method) == ("consultations", "add_comment")
    assert args[0] == PERSON.model_dump(mode="json") and args[1] == str(cid)
    assert args[2]["body"] == "Пропозиція щодо освітлення"
    assert isinstance(out, CommentOut) and out.author_name == "Ш"


def test_patches_send_only_what_was_set_and_queries_leave_out_none():
    patch = ConsultationPatch(title="Нова назва консультації")
    assert Consultations.methods["update_draft"].encode((PERSON, uuid.uuid4(), patch), {})[2] == \
        {"title": "Нова назва консультації"}
    assert Moderation.methods["queue"].encode((PERSON, QueueQuery(limit=5)), {})[1] == {"limit": 5}


def test_trailing_defaults_stay_off_the_wire_and_enums_go_as_values():
    listing = Consultations.methods["list"]
    assert listing.encode((Status.active, None, None, 1, 100), {}) == ["active", None, None, 1, 100]
    assert listing.encode((), {"per_page": 5}) == [None, None, None, 1, 5]


def test_service_side_turns_wire_values_into_the_declared_types():
    method = Consultations.methods["add_comment"]
    args, _ = method.decode_args((PERSON.model_dump(mode="json"), str(uuid.UUID(int=7)), {"body": "Текст пропозиції"}), {})
    assert isinstance(args[0], Principal) and args[1] == uuid.UUID(int=7) and isinstance(args[2], CommentIn)


def test_a_wire_value_that_does_not_fit_is_a_typed_error_naming_the_parameter():
    method = Consultations.methods["get"]
    with pytest.raises(InvalidInput) as caught:
        method.decode_args((None, "not-a-uuid"), {})
    assert caught.value.errors[0]["field"] == "consultation_id"
    with pytest.raises(InvalidInput):
        Consultations.methods["year_counts"].decode_args((2026, 1), {})


def test_the_reports_feed_is_typed():
    """consultations → reports: the report source is a model, not a dict read by key."""
    method = Consultations.methods["report_source"]
    assert method.returns is ReportSource
    page = Consultations.methods["report_comments"].decode_result(
        {"items": [{"id": str(uuid.uuid4()), "author_id": str(uuid.uuid4()), "author_name": "Ш", "body": "Т",
                    "created_at": "2026-11-30T10:00:00+00:00", "alternative_id": None, "paragraph_id": None,
                    "status": "rejected", "decided_at": None, "rejection_grounds": ["obscene"],
                    "rejection_note": None}], "next_after": None})
    assert page.items[0].rejection_grounds == ["obscene"]


def test_serves_refuses_a_method_its_contract_does_not_declare():
    with pytest.raises(TypeError, match="declares no RPC method"):
        @Reports.serves
        def not_declared(self):
            pass


def test_stats_year_is_an_int_and_dates_travel_as_iso():
    assert Reports.methods["stats"].encode((2026,), {}) == [2026]
    assert Reports.methods["bundle"].returns.model_fields["retain_until"].annotation == date | None
