"""The operator HTTP API: FastAPI over the running CSMS, in the same event loop."""

from __future__ import annotations

from fastapi import FastAPI

from csms.api.hygiene import RefuseControlCharacters
from csms.api.routes import ROUTERS, ops
from csms.api.routes.admin import audit
from csms.api.routes.safety import alarms
from csms.api.routes.sharing import feed, webhooks
from csms.app import Csms
from csms.console.app import mount_console
from csms.resident import install as install_resident


def create_app(csms: Csms) -> FastAPI:
    """The API for ``csms``: operations endpoints plus one router per endpoint family."""
    app = FastAPI(
        title="Community charging CSMS",
        version="0.1.0",
        description=(
            "Operator API of the community-charging CSMS. Authenticate with "
            "`Authorization: Bearer csms_<id>_<secret>` (create one with `csms token create`)."
        ),
    )
    app.state.csms = csms
    app.add_middleware(RefuseControlCharacters)  # NUL in a path never reaches the database
    app.include_router(ops.router)
    for router in ROUTERS:
        app.include_router(router)
    for router in (audit.router, feed.router, webhooks.router):  # safety sharing, audit
        app.include_router(router)
    app.include_router(alarms.router)  # alarms and the daily safety summary
    install_resident(app, csms)  # the resident page behind the charger QR code
    mount_console(app, csms)  # the operator console at /console/ (csms.console)
    if csms.platform is not None:  # what the municipal platform pulls (its own tokens)
        from csms.api.routes.platform import pulls

        app.include_router(pulls.router)
    return app
