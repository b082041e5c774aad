"""Orders end to end, in rooms:

* `posting`: an order and its lines, checked field by field, as a draft or open;
* `runs`: eligibility -> the matching problem (`runs.problem`), starting runs;
* `proposals`: a plan made real as proposals holding capacity (`proposals.apply`), the
  factories' answers, the engine's explanations, the work a factory lost;
* `production`: milestones and their documents, delivery, disputes, ratings;
* `notify`: notifications and outgoing webhooks;
* `workers`: what runs the background work (executing runs, dispatchers, housekeeping).

Shared by the rooms: the tables (`models`), the state table (`transitions`), who may see
or change what (`access`), what a principal sees of an object (`presenters`, `schemas`),
how much of each line is placed (`coverage`), the after-commit outbox (`outbox`), the
area's settings, and its two blueprints. Each room's `views.py` and `api.py` are its
pages and its REST API; `setup.init_orders` puts the area into an application.
"""
