"""Capacity: hours per resource (process) per ISO week of each factory.

- `weeks`: ISO weeks, named by their Monday;
- `hours`: hours as Decimal, how they read, and the free-hours rule;
- `calendar`: the grid a factory keeps, and the one service that changes it;
- `booking`: holding, confirming and releasing booked hours atomically;
- `floor`: maxima set by machines, which stay at the booked hours rather than below.
"""
