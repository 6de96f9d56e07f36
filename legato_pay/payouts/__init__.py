"""Writers' payouts: methods on file (``methods``, encrypted at rest by ``vault``), requests
that reserve released earnings (``requests``), status changes after them (``status``), how a
payout reads (``views``), fee arithmetic (``fees``) and withholding tax
(``tax``)."""
