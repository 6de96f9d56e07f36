"""Writers' payouts: methods on file (``methods``, encrypted by ``vault``), requests that
reserve released earnings (``requests``), fee arithmetic (``fees``) and the withholding-tax
seam (``withholding``)."""
