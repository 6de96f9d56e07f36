"""Revenue: licensing and ads receipts, the subscription pool run and per-period true-ups.

- ``receipts``: ``revenue record``/``import`` split money received for a writer's work;
- ``basis``: the period's engagement, aggregated in SQL (fraud caps applied) and its fees;
- ``pool``: the pool split by engagement (pro-rata or user-centric), exact to the minor unit;
- ``trueup``: per-writer period true-ups of per-transaction rounding (content, tips, …);
- ``runs``: runs that cron can trust (once per period and stream, locked, atomic);
- ``simulate``: both pool models side by side, writing nothing.
"""
