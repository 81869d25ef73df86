"""Derapi through its own SDK, `derapi` 0.1.2, generated from Derapi's API specification.

The SDK takes its base URL. Checked: a Join session (`POST /join/session/start` with
`storeCredentials` and `vendors`, answered with `sessionID`), the token once the customer
authorized (`fetch-token`: `vendor`, `accessToken`, `refreshToken`, `expiresIn`), the site list
with its `errors` and pages, and each site. The SDK parses every answer into its models, which
require the fields Derapi's specification requires.
"""

import httpx
from derapi import AuthenticatedClient
from derapi.api.join import create_join_session, get_join_session_token
from derapi.api.sites import get_site, list_sites
from derapi.models import (
    CreateJoinSessionRequest,
    SolaredgeJoinConfig,
    StoredCredentialsReference,
    TeslaJoinConfig,
    Vendor,
)


def client_for(d) -> AuthenticatedClient:
    token = httpx.post(
        f"{d['url']}/oauth2/token",
        auth=(d["client_id"], d["client_secret"]),
        data={"grant_type": "client_credentials"},
    )
    token.raise_for_status()
    return AuthenticatedClient(
        base_url=d["url"], token=token.json()["access_token"], raise_on_unexpected_status=True
    )


async def join_session_then_sites(sb):
    d = sb["derapi"]
    client = client_for(d)
    body = CreateJoinSessionRequest(
        store_credentials=True,
        vendors=[
            SolaredgeJoinConfig(),
            TeslaJoinConfig(
                credentials=StoredCredentialsReference(credentials_id=d["vendor_credentials"]["tesla"])
            ),
        ],
    )
    started = create_join_session.sync(client=client, body=body)
    assert started is not None and started.session_id, started
    # The customer authorizes Tesla in Join (the sandbox's stand-in for derapi-join.js).
    page = httpx.post(
        f"{d['url']}/join/session/{started.session_id}/submit",
        data={"decision": "allow", "vendor": "tesla"},
    )
    page.raise_for_status()
    token = get_join_session_token.sync(session_id=started.session_id, client=client)
    assert token.vendor == "tesla", token
    assert token.access_token and token.refresh_token, token
    assert int(token.expires_in) > 0, token

    listed = list_sites.sync(client=client, vendor=Vendor.TESLA, page_size=1)
    assert listed.errors is not None and listed.sites, listed
    sites = list(list_sites.sync_depaginated(client=client, vendor=Vendor.TESLA))
    assert len(sites) == 2, sites
    for s in sites:
        site = get_site.sync(s.id, client=client)
        assert site.id == s.id and site.vendor == Vendor.TESLA and site.name, site


CHECKS = [("derapi: the derapi SDK runs a Join session and lists the sites", join_session_then_sites)]
