"""Partners (docs/webhooks.md, docs/events.md): webhook subscriptions for administrators and the
public event feed (both kept by the notifications service), and partners' API keys (the registry)."""
from __future__ import annotations

import uuid

from flask import Response, json

from contracts.identity import Role
from contracts.registry import ApiKeyIn, ApiKeyIssued, ApiKeyList, ApiKeyOut
from contracts.webhooks import (DeliveriesQuery, DeliveryList, FeedPage, FeedQuery, Queued, ReplayIn,
                                SecretRotated, Subscription, SubscriptionCreated, SubscriptionIn,
                                SubscriptionList)
from gateway import auth
from gateway.clients import notifications, registry
from gateway.openapi import ApiSpec

ADMIN = (Role.admin,)
W = "/admin/webhooks"
RETRY_AFTER_SECONDS = 5
FEED_HELP = (
    "Public events (CloudEvents 1.0, the same bodies webhooks POST), oldest first. Keep `next_after` and "
    "pass it as `after` next time; a cursor only ever grows. Events are kept at least 30 days "
    "(EVENT_FEED_RETENTION_DAYS). An empty page carries `Retry-After` (seconds to wait before polling "
    "again); every page carries an ETag, so `If-None-Match` answers 304 when nothing changed.")


def register(spec: ApiSpec):
    api = spec.blueprint("webhooks", "/api/v1")

    @api.route(W, summary="Webhook subscriptions (never with their secrets)", response=SubscriptionList,
               tags=["webhooks"], auth=ADMIN)
    def list_subscriptions():
        return notifications.webhook_list()

    @api.route(W, "POST", summary="Register a receiver: its URL is checked (https, public addresses only); "
               "the signing secret is shown in this answer only", body=SubscriptionIn,
               response=SubscriptionCreated, status=201, tags=["webhooks"], auth=ADMIN)
    def create_subscription(body: SubscriptionIn):
        admin = auth.require_role(*ADMIN)
        return notifications.webhook_create(admin.person_id, body)

    @api.route(W + "/<uuid:subscription_id>", summary="One subscription (no secret)", response=Subscription,
               tags=["webhooks"], auth=ADMIN, errors=(404,))
    def get_subscription(subscription_id: uuid.UUID):
        return notifications.webhook_get(str(subscription_id))

    @api.route(W + "/<uuid:subscription_id>", "DELETE", summary="Disable a subscription (its log is kept)",
               response=Subscription, tags=["webhooks"], auth=ADMIN, errors=(404,))
    def disable_subscription(subscription_id: uuid.UUID):
        return notifications.webhook_disable(str(subscription_id))

    @api.route(W + "/<uuid:subscription_id>/rotate-secret", "POST", summary="A new secret, shown once; the "
               "old one keeps signing beside it for WEBHOOK_SECRET_GRACE_HOURS", response=SecretRotated,
               tags=["webhooks"], auth=ADMIN, errors=(404,))
    def rotate_secret(subscription_id: uuid.UUID):
        return notifications.webhook_rotate_secret(str(subscription_id))

    @api.route(W + "/<uuid:subscription_id>/deliveries", summary="Deliveries, newest first, each with its "
               "attempts (status, latency, the answer's first 500 characters without secrets)",
               query=DeliveriesQuery, response=DeliveryList, tags=["webhooks"], auth=ADMIN, errors=(404,))
    def deliveries(subscription_id: uuid.UUID, query: DeliveriesQuery):
        return notifications.webhook_deliveries(str(subscription_id), query.limit, query.before)

    @api.route(W + "/<uuid:subscription_id>/deliveries/<int:delivery_id>/resend", "POST",
               summary="Send one delivery again, with the same webhook-id", response=Queued, tags=["webhooks"],
               auth=ADMIN, errors=(404,))
    def resend(subscription_id: uuid.UUID, delivery_id: int):
        return notifications.webhook_resend(str(subscription_id), delivery_id)

    @api.route(W + "/<uuid:subscription_id>/replay", "POST", summary="Send again every kept event of the "
               "subscription's types that occurred in [since, until)", body=ReplayIn, response=Queued,
               tags=["webhooks"], auth=ADMIN, errors=(404,))
    def replay(subscription_id: uuid.UUID, body: ReplayIn):
        return notifications.webhook_replay(str(subscription_id), body)

    @api.route("/events", summary="The feed of public events, by cursor (a partner's API key with "
               "events:read in X-Api-Key, or an administrator)", description=FEED_HELP,
               query=FeedQuery, response=FeedPage, tags=["events"], auth=ADMIN)
    def events(query: FeedQuery):
        page = notifications.event_feed(query)
        response = Response(json.dumps(page.model_dump(mode="json"), ensure_ascii=False), mimetype="application/json")
        if not page.items:
            response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    # ---- partners' API keys (kept by the registry) ---------------------------------------------
    K = "/admin/api-keys"

    @api.route(K, summary="Partners' API keys (never the keys themselves)", response=ApiKeyList,
               tags=["partners"], auth=ADMIN)
    def list_keys():
        return registry.api_key_list()

    @api.route(K, "POST", summary="Issue a key to a named partner with read scopes, a rate limit and an "
               "expiry; the key is shown in this answer only", body=ApiKeyIn, response=ApiKeyIssued,
               status=201, tags=["partners"], auth=ADMIN)
    def issue_key(body: ApiKeyIn):
        admin = auth.require_role(*ADMIN)
        return registry.api_key_issue(admin.person_id, body)

    @api.route(K + "/<uuid:key_id>", "DELETE", summary="Revoke a key at once", response=ApiKeyOut,
               tags=["partners"], auth=ADMIN, errors=(404,))
    def revoke_key(key_id: uuid.UUID):
        return registry.api_key_revoke(str(key_id))

    return api

