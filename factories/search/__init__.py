"""Buyer search: verified factories that fit the filters, ranked by fit, with reasons.

A factory matches when one of its capabilities passes every per-capability filter
(process or a specialization of it, material, part envelope in any orientation,
tolerance: the envelope and tolerance are factories.fit's rule, the one matching
eligibility uses, so search never hides a factory the engine would use), the factory
passes the per-factory ones (region, country, a certification valid today, minimum
credit), and the capabilities that match have at least the asked free hours in the
week window, summed over the weeks. The database narrows the candidates (with the
indexes of migration 0005); ranking and reasons are computed on that short list:

    fit = 0.40 free-hours share + 0.25 price + 0.20 credit + 0.15 distance

where the free-hours share is the factory's free hours over the most any candidate
has, price is the cheapest candidate's rate over this one's (same currency), and
distance is 1 / (1 + km / 300) from the buyer's location; without a location its
weight is shared out among the others.

Its rooms: `filters` (what a buyer may ask, and its check), `ranking` (the fit and the
reasons), `service` (the query).
"""
