"""RPC methods declared once, in a service's contract module, as a class of typed stubs:

    class Consultations(RpcContract, service="consultations"):
        def add_comment(self, actor: Principal, consultation_id: uuid.UUID, body: CommentIn) -> CommentOut:
            \"\"\"Comment on an active consultation (R-3.12).\"\"\"

From that one declaration come:

* the **typed client**: ``Consultations(call).add_comment(principal, cid, CommentIn(...))`` encodes the
  arguments for the wire (models as JSON-able dicts, UUIDs as strings, in the declared order) and
  returns the response parsed into ``CommentOut``; ``call(service, method, *args)`` is the transport
  (the gateway's pooled proxy, or a nameko ``RpcProxy`` inside a service);
* the **service-side validation**: ``@Consultations.serves`` under nameko's ``@rpc`` on ``add_comment``
  turns the wire values into the declared types before the method runs, and a value that does not
  fit is a typed ``InvalidInput`` naming the parameter;
* the **catalogue**: ``python -m chassis.rpc_contract`` prints every declared method with the JSON
  schema of its parameters and response (``make rpc-doc`` writes ``docs/rpc.json``).

The wire form stays what it is without the declaration: positional JSON values, dicts for bodies.
``Annotated[Model, WIRE_PATCH]`` sends only the fields the caller set (a patch); ``WIRE_NO_NONE``
leaves out fields that are None (a query).
"""
from __future__ import annotations

import functools
import inspect
import json
import sys
import typing
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from chassis.errors import InvalidInput

REQUIRED = inspect.Parameter.empty


@dataclass(frozen=True)
class Wire:
    """How a model parameter is dumped for the wire (``model_dump`` options)."""

    exclude_unset: bool = False
    exclude_none: bool = False


WIRE_PATCH = Wire(exclude_unset=True)
WIRE_NO_NONE = Wire(exclude_none=True)


@dataclass
class Param:
    name: str
    annotation: Any
    default: Any = REQUIRED
    wire: Wire = field(default_factory=Wire)

    def __post_init__(self):
        self.adapter = TypeAdapter(self.annotation)

    def encode(self, value):
        if value is None:
            return None
        return self.adapter.dump_python(value, mode="json", exclude_unset=self.wire.exclude_unset,
                                        exclude_none=self.wire.exclude_none)

    def decode(self, value):
        if value is None and self.default is None:
            return None
        try:
            return self.adapter.validate_python(value)
        except ValidationError as exc:
            errors = [{"field": ".".join([self.name, *(str(p) for p in e["loc"])]), "message": e["msg"],
                       "type": e["type"]} for e in exc.errors(include_url=False)]
            raise InvalidInput(f"{self.name}: некоректне значення", errors=errors) from None


@dataclass
class Method:
    """One RPC method: its service, name, parameters in wire order and response type."""

    service: str
    name: str
    params: list[Param]
    returns: Any
    doc: str

    def __post_init__(self):
        self.result = TypeAdapter(self.returns) if self.returns is not None else None

    def encode(self, args: tuple, kwargs: dict) -> list:
        """The wire arguments (positional, declared order; trailing defaults left out)."""
        bound = dict(zip((p.name for p in self.params), args))
        unknown = set(kwargs) - {p.name for p in self.params}
        if len(args) > len(self.params) or unknown:
            raise TypeError(f"{self.service}.{self.name}: unexpected arguments {sorted(unknown) or args}")
        bound.update(kwargs)
        wire, pending = [], []
        for p in self.params:
            if p.name in bound:
                wire += pending + [p.encode(bound[p.name])]
                pending = []
            elif p.default is REQUIRED:
                raise TypeError(f"{self.service}.{self.name}: missing argument {p.name!r}")
            else:
                pending.append(p.encode(p.default))
        return wire

    def decode_args(self, args: tuple, kwargs: dict) -> tuple[list, dict]:
        """Wire values as the declared types (what the service method receives)."""
        names = [p.name for p in self.params]
        if len(args) > len(names) or set(kwargs) - set(names):
            raise InvalidInput(f"{self.name}: зайві аргументи", errors=[{"field": "args", "message": "зайві"}])
        out_args = [p.decode(v) for p, v in zip(self.params, args)]
        out_kwargs = {k: self.params[names.index(k)].decode(v) for k, v in kwargs.items()}
        return out_args, out_kwargs

    def decode_result(self, value):
        return self.result.validate_python(value) if self.result is not None else value

    def catalogue_entry(self, defs: dict) -> dict:
        def schema(annotation, adapter: TypeAdapter) -> dict:
            s = adapter.json_schema(ref_template="#/$defs/{model}")
            found = s.pop("$defs", {})
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                found[annotation.__name__], s = s, {"$ref": f"#/$defs/{annotation.__name__}"}
            for name, sub in found.items():
                if defs.setdefault(name, sub) != sub:
                    raise ValueError(f"two different schemas are both named {name!r}: rename one model")
            return s

        params = []
        for p in self.params:
            entry = {"name": p.name, "schema": schema(p.annotation, p.adapter)}
            if p.default is not REQUIRED:
                entry["default"] = p.encode(p.default)
            if p.wire != Wire():
                entry["wire"] = {k: v for k, v in vars(p.wire).items() if v}
            params.append(entry)
        out = {"params": params, "returns": schema(self.returns, self.result) if self.result is not None else None}
        if self.doc:
            out["summary"] = " ".join(self.doc.split())
        return out


CONTRACTS: dict[str, type[RpcContract]] = {}


def _declared(cls, name: str, fn: Callable) -> Method:
    hints = typing.get_type_hints(fn, globalns=vars(sys.modules[cls.__module__]), include_extras=True)
    params = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:  # after self
        annotation, wire = hints[p.name], Wire()
        if typing.get_origin(annotation) is typing.Annotated:
            base, *extras = typing.get_args(annotation)
            wire = next((e for e in extras if isinstance(e, Wire)), wire)
            rest = [e for e in extras if not isinstance(e, Wire)]
            annotation = typing.Annotated[(base, *rest)] if rest else base
        params.append(Param(p.name, annotation, p.default, wire))
    return Method(cls.service, name, params, hints.get("return"), inspect.getdoc(fn) or "")


class RpcContract:
    """Base of a service's RPC declaration; an instance is that service's typed client."""

    service: ClassVar[str]
    methods: ClassVar[dict[str, Method]]

    def __init_subclass__(cls, service: str, **kw):
        super().__init_subclass__(**kw)
        cls.service, cls.methods = service, {}
        for name, fn in list(vars(cls).items()):
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            cls.methods[name] = method = _declared(cls, name, fn)
            setattr(cls, name, _client_method(method))
        CONTRACTS[service] = cls

    def __init__(self, call: Callable[..., Any]):
        """``call(service, method, *wire_args)`` carries one request and returns the wire answer."""
        self._call = call

    @classmethod
    def serves(cls, fn: Callable) -> Callable:
        """Decorate the service's method of the same name (under ``@rpc``): wire values in, the
        declared types in; nameko checks calls against the declared signature."""
        if fn.__name__ not in cls.methods:
            raise TypeError(f"{fn.__qualname__}: {cls.service} declares no RPC method {fn.__name__!r}")
        method = cls.methods[fn.__name__]

        @functools.wraps(fn)
        def wrapper(self, *args, **kwargs):
            args, kwargs = method.decode_args(args, kwargs)
            return fn(self, *args, **kwargs)

        wrapper.__signature__ = inspect.signature(fn)
        wrapper.rpc_method = method
        return wrapper


def over_proxy(proxy) -> Callable[..., Any]:
    """The transport of a typed client inside a service: ``Registry(over_proxy(self.registry))``
    over nameko's ``RpcProxy("registry")`` dependency."""
    return lambda service, method, *args: getattr(proxy, method)(*args)


def _client_method(method: Method) -> Callable:
    def call(self, *args, **kwargs):
        return method.decode_result(self._call(method.service, method.name, *method.encode(args, kwargs)))

    call.__name__, call.__doc__, call.rpc_method = method.name, method.doc, method
    return call


def catalogue() -> dict:
    """Every declared RPC method, by service, with JSON schemas of its parameters and response."""
    from chassis.app import load_contracts

    load_contracts()
    defs: dict = {}
    services = {name: {m: method.catalogue_entry(defs) for m, method in sorted(contract.methods.items())}
                for name, contract in sorted(CONTRACTS.items())}
    return {"title": "RPC methods of the e-consultations services", "services": services,
            "$defs": dict(sorted(defs.items()))}


def render() -> str:
    return json.dumps(catalogue(), ensure_ascii=False, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    if argv[:1] == ["--check"]:
        with open(argv[1], encoding="utf-8") as f:
            if f.read() != render():
                print(f"{argv[1]} is stale: run `make rpc-doc`", file=sys.stderr)
                return 1
        return 0
    sys.stdout.write(render())
    return 0


if __name__ == "__main__":  # run the imported module, whose CONTRACTS the contract modules fill
    from chassis.rpc_contract import main as _main

    sys.exit(_main(sys.argv[1:]))
