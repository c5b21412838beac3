"""Settings from the environment, with localhost defaults (docs/settings.md)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


def discover_services(root: Path = Path(__file__).resolve().parents[1] / "services") -> tuple[str, ...]:
    """The services, learnt from the folder beside ``chassis/`` (in the image too): every package
    there with a ``service.py``, sorted by name. Nothing is imported; a new service is one folder."""
    return tuple(sorted(p.name for p in root.iterdir() if (p / "__init__.py").is_file() and (p / "service.py").is_file()))


SERVICES = discover_services()
DEV_SECRET = "dev-only-secret-change-me"
DEV_ENVS = ("development", "test")  # the only values that allow dev login and the default SECRET_KEY


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    app_env: Literal["development", "test", "production"] = Field(
        "development", description="development | test | production, exactly; any other value refuses to start")
    amqp_uri: str = Field("amqp://guest:guest@localhost:5672/", description="RabbitMQ connection URI")
    database_url: str = Field("postgresql://postgres@localhost:5432", description="PostgreSQL server; a database per service")
    db_prefix: str = Field("econsult_", description="database name = prefix + service name")
    db_pool_size: int = Field(0, ge=0, description="connections a service instance keeps open; 0: MAX_WORKERS, one "
                              "per concurrent worker (a smaller pool opens and closes PostgreSQL backends in "
                              "bursts under load). Budget per instance: pool + DB_MAX_OVERFLOW + 1 (the outbox "
                              "relay's own), docs/scaling.md")
    db_max_overflow: int = Field(4, ge=0, description="connections beyond the pool, opened and closed on demand "
                                 "(an instance's own threads: timers, senders, readiness checks); keep replicas × "
                                 "services × (pool + overflow + 1) < max_connections (or PgBouncer's max_client_conn)")
    db_idle_in_transaction_seconds: float = Field(60.0, ge=0, description="PostgreSQL ends a session left idle "
                                                  "inside a transaction this long (a client gone half-open "
                                                  "would otherwise hold its locks for ever); 0: off")
    db_silence_seconds: float = Field(60.0, ge=0, description="a statement, COMMIT, ROLLBACK or pool ping that "
                                      "hears nothing from PostgreSQL this long drops its connection (half-open links); 0: off")
    db_ping_idle_seconds: float = Field(1.0, ge=0, description="a pooled connection idle longer than this is "
                                        "pinged before use (a dead one is replaced); one used more recently is "
                                        "trusted (if the server went away meanwhile, its first statement fails and "
                                        "the pool reconnects); 0: ping on every checkout")
    smtp_host: str = Field("localhost", description="outgoing mail server (the local catcher in `make run`)")
    smtp_port: int = Field(1025, description="outgoing mail server port")
    smtp_user: str = Field("", description="SMTP login, when the server wants one")
    smtp_password: str = Field("", description="SMTP password, when the server wants one")
    smtp_tls: str = Field("none", description="none | starttls | ssl")
    smtp_from: str = Field("Електронні консультації <noreply@localhost>", description="sender of the e-mails")
    smtp_rate_per_second: float = Field(50.0, description="e-mails per second per sender")
    smtp_concurrency: int = Field(2, description="parallel SMTP connections per notifications instance")
    smtp_batch: int = Field(100, description="e-mails a sender claims at once")
    smtp_sent_group: int = Field(20, ge=1, description="e-mails a sender marks `sent` in one commit (within "
                                 "0.5 s): the most a sender that dies can send a second time, with the same "
                                 "Message-ID; 1: one commit per e-mail")
    delivery_stuck_seconds: float = Field(120.0, description="a claimed e-mail not sent by then is retried")
    digest_send_hour: int = Field(18, ge=0, le=23, description="Kyiv hour the day's digest e-mails go out")
    gateway_port: int = Field(8000, description="port the gateway listens on (gunicorn reads it too)")
    public_url: str = Field("http://localhost:8000", description="public address: links in e-mails, feeds")
    auth_dev_login: bool = Field(False, description="POST /api/v1/auth/dev-login; refused in production")
    tz: str = Field("Europe/Kyiv", description="the city's time zone for deadlines")
    log_level: str = Field("INFO", description="logging level of every process")
    rpc_timeout: float = Field(10.0, description="seconds the gateway waits for an RPC reply")
    amqp_heartbeat: int = Field(20, ge=0, description="AMQP heartbeat of the services' consumers (s): a "
                                "half-open broker connection is noticed after about twice this")
    amqp_publish_timeout: float = Field(10.0, gt=0, description="longest wait for a publish and its confirm (s)")
    event_batch_seconds: float = Field(0.2, ge=0, description="longest an event handler that only records "
                                       "events waits for others to share its transaction, less once half the "
                                       "service's workers wait (reports' read model, "
                                       "the public event feed); each message is "
                                       "acknowledged after the commit that carries it")
    event_batch_max: int = Field(50, ge=1, description="the most events one such transaction carries")
    max_workers: int = Field(16, description="concurrent workers per service instance")
    outbox_poll_seconds: float = Field(2.0, description="how often the outbox relay looks for events left "
                                       "unsent (a process killed after its commit; after a failed publish "
                                       "the relay looks at once when it retries); new events go out right "
                                       "after their commit (s)")
    event_max_attempts: int = Field(5, description="handler failures before an event is dead-lettered")
    fault_point: str = Field("", description="test-only: SIGKILL at this point once (chassis.faults); "
                                             "refused when APP_ENV=production")
    sql_count: bool = Field(False, description="benchmarks/tests only: count SQL statements, shown by health")
    fault_skip: int = Field(0, description="test-only: passes of FAULT_POINT to let through first")

    # consultations (issue: Consultations)
    holidays_are_days_off: bool = Field(True, description="false while martial law suspends them")
    min_term_days: int = Field(15, description="R-1.12: shortest consultation, calendar days")
    min_term_days_initiative: int = Field(30, description="R-3.11: shortest for initiatives (one month)")
    timer_interval_seconds: float = Field(30.0, description="how often services run their timers")
    grouping_interval_seconds: float = Field(1.0, gt=0, description="how often the reports service groups newly "
                                             "published comments with their near-identical ones (lag behind "
                                             "publication: about this plus one batch)")
    file_store: str = Field("var/files", description="a directory, or s3://bucket/prefix (needs boto3)")
    max_attachment_mb: float = Field(20.0, description="largest attachment, MiB")

    # identity and sessions (issue: Registry and identity)
    secret_key: str = Field(DEV_SECRET, description="signs session tokens and cookies; set in production")
    session_ttl_minutes: int = Field(12 * 60, description="session lifetime")
    session_cache_seconds: float = Field(30.0, ge=0, description="each gateway worker keeps a resolved session "
                                         "this long at most, dropped at once by the registry's events (logout, "
                                         "consent, erasure, roles); a revoked session is refused within this "
                                         "bound even if an event is missed (docs/identity.md); 0: off")
    community_code: str = Field("UA-DEMO-COMMUNITY", description="the community's КАТОТТГ code (R-1.3); set it")
    oauth_authorize_url: str = Field("https://id.gov.ua/", description="identity provider: authorization endpoint")
    oauth_token_url: str = Field("https://id.gov.ua/get-access-token", description="identity provider: token endpoint")
    oauth_userinfo_url: str = Field("https://id.gov.ua/get-user-info", description="identity provider: user data")
    oauth_logout_url: str = Field("https://id.gov.ua/get-user-logout", description="identity provider: logout endpoint")
    oauth_client_id: str = Field("", description="the service's client id at the identity provider")
    oauth_client_secret: str = Field("", description="the service's client secret at the identity provider")
    oauth_auth_type: str = Field("dig_sign,bank_id", description="sign-in ways: КЕП, BankID")
    oauth_token_method: str = Field("POST", description="GET (as id.gov.ua documents) or POST")
    oauth_fields: str = Field("givenname,middlename,lastname,drfocode,unzr,email,phone,address", description="person data asked of the provider")
    oauth_redirect_url: str = Field("", description="default: PUBLIC_URL + /api/v1/auth/callback")

    # ---- abuse limits (OWASP API4): counted by the registry, shared by every gateway ----
    rate_limit_enabled: bool = Field(True, description="per-person and per-address limits on writes and logins")
    rate_window_seconds: int = Field(60, ge=1, description="fixed counting window")
    rate_writes_per_person: int = Field(30, ge=1, description="unsafe requests per person per window")
    rate_writes_per_address: int = Field(120, ge=1, description="unsafe requests per client address per window")
    rate_logins_per_address: int = Field(20, ge=1, description="login starts, callbacks, dev-logins per address per window")
    forwarded_proxies: int = Field(0, ge=0, description="trusted reverse proxies in front of the gateway "
                                   "(X-Forwarded-For/-Proto hops to trust; 0: use the socket's address)")
    max_json_kb: int = Field(1024, ge=1, description="largest JSON request body, KiB (attachments: MAX_ATTACHMENT_MB)")
    public_cache_seconds: int = Field(5, ge=0, le=300, description="anonymous public reads (consultation "
                                      "pages, public API GETs) answer `Cache-Control: public, max-age=` this, and "
                                      "each gateway worker keeps them this long; 0: neither (docs/web.md, «Caching»)")
    public_cache_mb: int = Field(16, ge=1, description="memory each gateway worker gives to the anonymous "
                                 "responses it keeps (least recently used dropped first; a response over "
                                 "1/16 of it is not kept)")
    accessibility_email: str = Field("accessibility@localhost", description="where people report accessibility "
                                     "problems: shown on the accessibility statement (`/accessibility`); set it")
    accessibility_phone: str = Field("", description="a telephone for the same, shown beside the e-mail when set")

    # operations endpoints of each service instance (chassis.ops_http): /livez, /readyz, /metrics
    ops_host: str = Field("127.0.0.1", description="address the instance's operations endpoints listen on")
    ops_port: int = Field(0, ge=0, le=65535, description="port of /livez, /readyz, /metrics of a service "
                          "instance (never the public port); 0: off")

    # gateway and web hardening: the gateway's own worker (gateway/worker.py, docs/hardening.md)
    gateway_header_timeout: float = Field(10.0, gt=0, description="seconds a client has to send a request's "
                                          "whole head; its bytes are collected without holding a thread")
    gateway_header_max_kb: int = Field(64, ge=8, description="largest request head (request line and headers), KiB")

    # consultation dates and terms (services hardening)
    initiative_term: str = Field("calendar_month", pattern="^(calendar_month|days)$", description="R-3.11 "
                                 "«not less than one month»: calendar_month (until the same date next month, "
                                 "clamped to its last day) | days (MIN_TERM_DAYS_INITIATIVE calendar days)")
    max_date_years_ahead: int = Field(2, ge=1, le=50, description="latest start or end date of a consultation, "
                                      "years from today")
    max_term_days: int = Field(366, ge=15, description="longest consultation term, calendar days")

    # running in containers: graceful stop and per-instance readiness (docs/operations.md)
    shutdown_grace_seconds: float = Field(20.0, ge=0, description="on SIGTERM a service instance stops "
                                          "consuming and lets its in-flight workers finish this long (the "
                                          "gateway: gunicorn's graceful timeout); keep it under the "
                                          "orchestrator's stop grace period")
    readiness_interval_seconds: float = Field(2.0, gt=0, description="how often a service instance checks "
                                              "its database and consumers; while a check fails it takes "
                                              "no RPC requests (other instances serve them)")

    # webhooks and the public event feed, kept by notifications (docs/webhooks.md, docs/events.md)
    webhook_poll_seconds: float = Field(0.5, gt=0, description="how often a notifications instance looks for "
                                        "due webhook deliveries")
    webhook_concurrency: int = Field(128, ge=1, description="parallel webhook POSTs per notifications instance")
    webhook_per_subscription: int = Field(32, ge=1, description="deliveries of one subscription in flight, "
                                          "answered ones not yet recorded included (a slow or failing receiver "
                                          "cannot take every sender)")
    webhook_connect_timeout: float = Field(3.0, gt=0, description="seconds to connect to a receiver")
    webhook_timeout: float = Field(15.0, gt=0, description="longest whole webhook POST, seconds (then retried)")
    webhook_response_cap: int = Field(4096, ge=0, description="bytes of a receiver's answer read (and logged, "
                                      "500 of them); the rest is never read")
    webhook_retry_base_seconds: float = Field(5.0, gt=0, description="first retry delay; doubles each attempt, "
                                              "with jitter")
    webhook_retry_cap_seconds: float = Field(3 * 3600.0, gt=0, description="longest delay between two attempts")
    webhook_retry_window_seconds: float = Field(86400.0, gt=0, description="a delivery still failing this long "
                                                "after its event is given up and its subscription marked failing")
    webhook_stuck_seconds: float = Field(60.0, gt=0, description="a claimed delivery not finished by then (its "
                                         "sender died) is retried")
    webhook_secret_grace_hours: float = Field(24.0, ge=0, description="after a rotation the old secret also "
                                              "signs for this long")
    webhook_allow_loopback: bool = Field(False, description="development and tests only: receivers on "
                                         "127.0.0.0/8 and ::1 (and plain http) are allowed; refused when "
                                         "APP_ENV=production")
    webhook_blocked_cidrs: str = Field("", description="comma-separated extra ranges no receiver may resolve "
                                       "to (the cluster's own, if public)")
    event_feed_retention_days: int = Field(30, ge=30, description="days the public event feed and webhook "
                                           "delivery logs are kept")

    # scaling beyond one machine: broker cluster, connection pooler, read replica (docs/kubernetes.md)
    queue_type: str = Field("", pattern="^(|quorum|classic)$", description="type of every durable queue "
                            "the topology declares: quorum | classic; empty: quorum when APP_ENV=production, "
                            "classic otherwise (a one-node development broker)")
    database_read_url: str = Field("", description="PostgreSQL server (a streaming replica, or its pooler) for "
                                   "reads that may lag: public lists, open data, feeds; empty: DATABASE_URL")
    db_prepared_statements: bool = Field(True, description="psycopg prepares statements it runs often; false "
                                         "behind PgBouncer in transaction mode before 1.21 (prepare_threshold=None)")

    # observability: traces, the gateway's metrics port, retention of outbox and processed-event rows
    tracing: str = Field("off", description="off | otlp: OpenTelemetry spans over OTLP/HTTP (endpoint and headers "
                         "from the standard OTEL_EXPORTER_OTLP_* variables)")
    tracing_sample_ratio: float = Field(1.0, ge=0, le=1, description="share of new traces recorded (a caller's "
                                        "decision is followed)")
    tracing_spans_dir: str = Field("", description="test-only: every process appends its finished spans as JSON "
                                   "lines to <dir>/<component>-<pid>.jsonl")
    gateway_metrics_port: int = Field(0, ge=0, le=65535, description="port of the gateway's /metrics (all "
                                      "workers summed; never the public port); 0: off")
    retention_days: float = Field(30.0, gt=0, description="sent outbox rows and processed-event keys older than "
                                  "this are pruned (keep it longer than any redelivery: retries, parked "
                                  "dead letters replayed)")
    retention_batch: int = Field(1000, ge=1, description="rows deleted per statement by the retention timer")
    retention_interval_seconds: float = Field(3600.0, gt=0, description="how often each instance prunes")

    # who is missing while a consultation runs: the owning unit's live participation view (docs/reports.md)
    community_shares: str = Field(
        '{"age_band": {"14–17": 0.05, "18–35": 0.25, "36–60": 0.42, "60+": 0.28}}',
        description="JSON: dimension → group → the community's share (0–1) that a consultation's live "
                    "participation is set against; dimensions `age_band` (14–17, 18–35, 36–60, 60+), `visits` "
                    "(first_time, returning), `channel` (web, …), `respondent_type` (private, ngo, charity, "
                    "condominium, self_organisation, trade_union, employers, business); a group left out shows "
                    "no reference. The default age shares are placeholders: set the community's own figures")
    participation_min_cell: int = Field(5, ge=2, description="the live participation view shows a count from 1 "
                                        "to this minus one as «менше N» (and one more cell of the same dimension "
                                        "when that one alone could be worked out from the total)")

    @field_validator("community_shares")
    @classmethod
    def _shares(cls, value: str) -> str:
        """Refuse to start on shares that are not JSON of dimension → group → a number from 0 to 1."""
        import json

        try:
            shares = json.loads(value)
        except ValueError as e:
            raise ValueError(f"COMMUNITY_SHARES is not JSON: {e}") from None
        if not isinstance(shares, dict) or not all(
                isinstance(groups, dict) and all(isinstance(v, (int, float)) and 0 <= v <= 1 for v in groups.values())
                for groups in shares.values()):
            raise ValueError("COMMUNITY_SHARES: {dimension: {group: share from 0 to 1}}")
        return value

    @property
    def pool_size(self) -> int:
        """Connections each service instance keeps: DB_POOL_SIZE, or MAX_WORKERS when it is 0."""
        return self.db_pool_size or self.max_workers

    @property
    def connections_per_instance(self) -> int:
        """The most PostgreSQL connections one service instance opens (the relay's own included)."""
        return self.pool_size + self.db_max_overflow + 1

    def service_db_url(self, service: str) -> str:
        """SQLAlchemy URL of one service's own database (psycopg 3 driver)."""
        url = make_url(self.database_url).set(drivername="postgresql+psycopg",
                                              database=self.db_prefix + service)
        return url.render_as_string(hide_password=False)

    def service_read_db_url(self, service: str) -> str:
        """Like :meth:`service_db_url`, on ``DATABASE_READ_URL`` when set."""
        if not self.database_read_url:
            return self.service_db_url(service)
        url = make_url(self.database_read_url).set(drivername="postgresql+psycopg",
                                                   database=self.db_prefix + service)
        return url.render_as_string(hide_password=False)

    @property
    def durable_queue_type(self) -> str:
        return self.queue_type or ("quorum" if self.app_env == "production" else "classic")

    def maintenance_db_url(self) -> str:
        url = make_url(self.database_url).set(drivername="postgresql+psycopg", database="postgres")
        return url.render_as_string(hide_password=False)

    def nameko_config(self) -> dict:
        return {
            "AMQP_URI": self.amqp_uri,
            "max_workers": self.max_workers,
            "parent_calls_tracked": 10,
            "serializer": "json",
            "LOG_LEVEL": self.log_level,
            "HEARTBEAT": self.amqp_heartbeat,
        }


def refuse_unsafe_outside_dev(settings: Settings) -> None:
    """Dev login and the published default SECRET_KEY exist only in development and test."""
    if settings.app_env in DEV_ENVS:
        return
    if settings.auth_dev_login:
        raise RuntimeError(f"AUTH_DEV_LOGIN must be off when APP_ENV={settings.app_env}")
    if settings.secret_key == DEV_SECRET:
        raise RuntimeError(f"set SECRET_KEY when APP_ENV={settings.app_env}")


@lru_cache
def get_settings() -> Settings:
    return Settings()
