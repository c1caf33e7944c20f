"""The site-load page's base-load profile: shown by hour, edited by a role that writes load
(24 values in kW), refused with the field named otherwise."""

from __future__ import annotations

import re

import httpx

from csms.api.access import Role
from csms.app import Csms
from tests.api.test_sessions import new_place
from tests.console.conftest import token_sign_in


async def test_the_profile_is_shown_and_edited(csms: Csms,
                                               client: httpx.AsyncClient) -> None:
    place = await new_place(csms, "丙")
    await token_sign_in(csms, client, Role.OPERATOR)
    page = (await client.get(f"/load?site_id={place.site_id}")).text
    assert 'id="no-profile"' in page
    csrf = re.search(r'id="profile">\s*<input type="hidden" name="csrf" value="([^"]+)"', page)
    assert csrf is not None
    workday = ", ".join(str(100 + h) for h in range(24))
    saved = await client.post(f"/load/{place.site_id}/profile",
                              data={"csrf": csrf[1], "workday_kw": workday})
    assert 303 == saved.status_code
    page = (await client.get(f"/load?site_id={place.site_id}")).text
    table = page[page.index('id="base-load-profile"'):page.index("</table>",
                                                                 page.index("base-load"))]
    assert ["100", "123"] == [re.findall(r"<td>(\d+)</td>", table)[i] for i in (0, 23)]
    assert 48 == len(re.findall(r"<td>\d+</td>", table))  # rest days: the workday values
    bad = await client.post(f"/load/{place.site_id}/profile",
                            data={"csrf": csrf[1], "workday_kw": "1, 2, x"})
    assert 422 == bad.status_code
    assert "workday_kw" in bad.text
    await token_sign_in(csms, client, Role.DISTRICT, place.district_id)  # reads load, no writes
    page = (await client.get(f"/load?site_id={place.site_id}")).text
    assert 'id="base-load-profile"' in page
    assert 'id="profile"' not in page
