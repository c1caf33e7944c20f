"""One router per endpoint family; each module's ``router`` is listed here."""

from __future__ import annotations

from fastapi import APIRouter

from csms.api.routes import tokens

ROUTERS: list[APIRouter] = [tokens.router]
