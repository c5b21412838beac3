"""The consultations service's units of work, one module per part of the service:

* ``reading``: a consultation's page as its reader may see it, public lists, attachments;
* ``drafting``: drafts and initiatives, draft act versions, publication (R-1.12, R-3.10, R-3.13);
* ``timers``: opening and closing on their dates (R-1.10, R-3.17);
* ``comments``: comments and the cabinet's lists (R-3.5, R-3.9);
* ``outcomes``: what moderation and reports decided, and the unit's conclusion on an initiative;
* ``surveys``: answers and support of alternatives, live tallies (R-1.9, R-3.12);
* ``decisions``: the adopted decision (R-3.18), deadlines and the archive (R-1.11, R-3.17);
* ``plan``: the annual indicative plan, its entries and proposals (R-3.3).

A function whose first argument is ``uow`` opens its own transaction; one taking ``store`` runs in
a transaction its caller opened (an event's, or another handler's).
"""
