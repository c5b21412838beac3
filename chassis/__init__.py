"""The shared chassis: what every service needs and nothing domain-specific.

settings (environment), db (SQLAlchemy engine, session dependency, database creation),
events (envelope, catalogue), outbox (transactional outbox and its relay),
consumer (idempotent, dead-lettering event subscriptions), topology (exchanges, queues,
bindings declared before traffic), logging (JSON lines with a request id), errors (typed RPC
errors), run (the service runner), migrate (Alembic per service).
"""

import warnings

# nameko imports eventlet, which warns on import; docs/dependencies.md says why nameko stays.
warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
