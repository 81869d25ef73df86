"""Tesla Fleet API through tesla-fleet-api (Teslemetry's client, used by Home Assistant).

The library hard-codes Tesla's hosts; it is pointed at the sandbox through the aiohttp session
it is handed: a client middleware sends its requests for Tesla's auth and Fleet API hosts to
the sandbox. Checked: refresh (form body, client_id only, a rotated single-use refresh token),
`GET /api/1/products`, and finding the region with `GET /api/1/users/region`.
"""

import aiohttp
from tesla_fleet_api import TeslaFleetOAuth
from yarl import URL

TESLA_HOSTS = {
    "fleet-auth.prd.vn.cloud.tesla.com",
    "fleet-api.prd.na.vn.cloud.tesla.com",
    "fleet-api.prd.eu.vn.cloud.tesla.com",
}


def session_to(base: str) -> aiohttp.ClientSession:
    sandbox = URL(base)

    async def to_sandbox(request, handler):
        if request.url.host in TESLA_HOSTS:
            request.url = sandbox.with_path(request.url.path).with_query(request.url.query)
        return await handler(request)

    return aiohttp.ClientSession(middlewares=(to_sandbox,))


async def refresh_products_and_region(sb):
    tesla = sb["tesla"]
    first = tesla["refresh_tokens"][0]
    async with session_to(tesla["url"]) as session:
        api = TeslaFleetOAuth(session, "na", client_id=tesla["client_id"], refresh_token=first)
        rotated = await api.refresh_access_token()
        assert rotated["refresh_token"] and rotated["refresh_token"] != first, rotated
        region = await api.find_server()
        assert region == "na", region
        products = await api.products()
        sites = [p for p in products["response"] if "energy_site_id" in p]
        assert sites and all(p["site_name"] for p in sites), products
        assert products["count"] == len(products["response"]), products
        # Tesla's refresh tokens are single use: the one just replaced is refused.
        again = TeslaFleetOAuth(session, "na", client_id=tesla["client_id"], refresh_token=first)
        try:
            await again.refresh_access_token()
        except ValueError as refused:
            assert "invalid_grant" in str(refused) or "login_required" in str(refused), refused
        else:
            raise AssertionError("a used refresh token was accepted again")


CHECKS = [("tesla: tesla-fleet-api refreshes, finds the region, lists products", refresh_products_and_region)]
