"""The municipal platform's data exchange in the T/CEC 102.4 style, as pure functions.

``envelope`` seals and opens the ``{OperatorID, Data, TimeStamp, Seq, Sig}`` bodies,
``stations`` builds station and connector-status data, ``orders`` charge orders (details
summing exactly to totals), their reconciliation and statistics, ``tokens`` the operator
side's access tokens. The adapters are csms.store.platform (outbox, reads),
csms.services.platform.pushes (deliverer) and csms.api.routes.platform.pulls (what the
platform pulls).
"""
