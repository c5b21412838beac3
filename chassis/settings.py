"""Settings from the environment, with localhost defaults (README, "Settings")."""
from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

SERVICES = ("consultations", "moderation", "notifications", "registry", "reports")
DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    app_env: str = Field("development", description="development | production")
    amqp_uri: str = "amqp://guest:guest@localhost:5672/"
    database_url: str = "postgresql://postgres@localhost:5432"
    db_prefix: str = Field("econsult_", description="database name = prefix + service name")
    db_pool_size: int = 2
    db_max_overflow: int = 10
    db_idle_in_transaction_seconds: float = Field(60.0, ge=0, description="PostgreSQL ends a session left idle "
                                                  "inside a transaction this long (a client gone half-open "
                                                  "would otherwise hold its locks for ever); 0: off")
    db_silence_seconds: float = Field(60.0, ge=0, description="a statement or pool ping that hears nothing "
                                      "from PostgreSQL this long drops its connection (half-open links); 0: off")
    smtp_host: str = "localhost"
    smtp_port: int = 1025
    smtp_user: str = ""
    smtp_password: str = ""
    smtp_tls: str = Field("none", description="none | starttls | ssl")
    smtp_from: str = "Електронні консультації <noreply@localhost>"
    smtp_rate_per_second: float = Field(50.0, description="e-mails per second per sender")
    smtp_concurrency: int = Field(2, description="parallel SMTP connections per notifications instance")
    smtp_batch: int = 100
    delivery_stuck_seconds: float = Field(120.0, description="a claimed e-mail not sent by then is retried")
    digest_send_hour: int = Field(18, ge=0, le=23, description="Kyiv hour the day's digest e-mails go out")
    gateway_port: int = 8000
    public_url: str = "http://localhost:8000"
    auth_dev_login: bool = False
    tz: str = "Europe/Kyiv"
    log_level: str = "INFO"
    rpc_timeout: float = Field(10.0, description="seconds the gateway waits for an RPC reply")
    amqp_heartbeat: int = Field(20, ge=0, description="AMQP heartbeat of the services' consumers (s): a "
                                "half-open broker connection is noticed after about twice this")
    amqp_publish_timeout: float = Field(10.0, gt=0, description="longest wait for a publish and its confirm (s)")
    max_workers: int = Field(16, description="concurrent workers per service instance")
    outbox_poll_seconds: float = 0.5
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
    file_store: str = Field("var/files", description="a directory, or s3://bucket/prefix (needs boto3)")
    max_attachment_mb: float = 20.0

    # identity and sessions (issue: Registry and identity)
    secret_key: str = Field(DEV_SECRET, description="signs session tokens and cookies; set in production")
    session_ttl_minutes: int = 12 * 60
    community_code: str = Field("UA-DEMO-COMMUNITY", description="the community's КАТОТТГ code (R-1.3); set it")
    oauth_authorize_url: str = "https://id.gov.ua/"
    oauth_token_url: str = "https://id.gov.ua/get-access-token"
    oauth_userinfo_url: str = "https://id.gov.ua/get-user-info"
    oauth_logout_url: str = "https://id.gov.ua/get-user-logout"
    oauth_client_id: str = ""
    oauth_client_secret: str = ""
    oauth_auth_type: str = "dig_sign,bank_id"
    oauth_token_method: str = Field("POST", description="GET (as id.gov.ua documents) or POST")
    oauth_fields: str = "givenname,middlename,lastname,drfocode,unzr,email,phone,address"
    oauth_redirect_url: str = Field("", description="default: PUBLIC_URL + /api/v1/auth/callback")

    # ---- abuse limits (issue 8; OWASP API4): counted by the registry, shared by every gateway ----
    rate_limit_enabled: bool = Field(True, description="per-person and per-address limits on writes and logins")
    rate_window_seconds: int = Field(60, ge=1, description="fixed counting window")
    rate_writes_per_person: int = Field(30, ge=1, description="unsafe requests per person per window")
    rate_writes_per_address: int = Field(120, ge=1, description="unsafe requests per client address per window")
    rate_logins_per_address: int = Field(20, ge=1, description="login starts, callbacks, dev-logins per address per window")
    forwarded_proxies: int = Field(0, ge=0, description="trusted reverse proxies in front of the gateway "
                                   "(X-Forwarded-For/-Proto hops to trust; 0: use the socket's address)")
    max_json_kb: int = Field(1024, ge=1, description="largest JSON request body, KiB (attachments: MAX_ATTACHMENT_MB)")

    # operations endpoints of each service instance (chassis.ops_http): /livez, /readyz, /metrics
    ops_host: str = Field("127.0.0.1", description="address the instance's operations endpoints listen on")
    ops_port: int = Field(0, ge=0, le=65535, description="port of /livez, /readyz, /metrics of a service "
                          "instance (never the public port); 0: off")

    # webhooks and the public event feed, kept by notifications (docs/webhooks.md, docs/events.md)
    webhook_poll_seconds: float = Field(0.5, gt=0, description="how often a notifications instance looks for "
                                        "due webhook deliveries")
    webhook_concurrency: int = Field(64, ge=1, description="parallel webhook POSTs per notifications instance")
    webhook_per_subscription: int = Field(16, ge=1, description="deliveries of one subscription one claim takes "
                                          "(a slow or failing receiver cannot take every sender)")
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

    def service_db_url(self, service: str) -> str:
        """SQLAlchemy URL of one service's own database (psycopg 3 driver)."""
        url = make_url(self.database_url).set(drivername="postgresql+psycopg",
                                              database=self.db_prefix + service)
        return url.render_as_string(hide_password=False)

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
