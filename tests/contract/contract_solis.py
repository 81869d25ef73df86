"""Solis Cloud through soliscloud-api, the client Home Assistant's Solis integration uses.

It signs the Content-MD5 of `json.dumps(body, separators=(",", ":"))` and then sends aiohttp's
`json=body` (`", "` and `": "`): the real Solis accepts that, so must the sandbox. It reads
`data.page.records` of `/v1/api/userStationList` and `data` of `/v1/api/stationDetail`, the two
calls Onramp makes. The library sets its own host through its `domain` argument.
"""

import aiohttp
from soliscloud_api import SoliscloudAPI


async def stations_of_the_account_and_of_a_customer(sb):
    solis = sb["solis"]
    account = solis["account"]
    customer = solis["customers"][0]
    async with aiohttp.ClientSession() as session:
        api = SoliscloudAPI(solis["url"], session)
        # Three calls: the sandbox, like Solis, allows three per five seconds per address.
        records = await api.user_station_list(
            account["key_id"], account["key_secret"].encode(), page_no=1, page_size=100
        )
        assert len(records) == 100, len(records)
        first = records[0]
        assert first["stationName"] and first["id"], first
        detail = await api.station_detail(
            account["key_id"], account["key_secret"].encode(), station_id=int(first["id"])
        )
        assert str(detail["id"]) == str(first["id"]), detail
        mine = await api.user_station_list(customer["key_id"], customer["key_secret"].encode())
        assert sorted(str(r["id"]) for r in mine) == sorted(customer["station_ids"]), mine


CHECKS = [("solis: soliscloud-api lists stations and reads one", stations_of_the_account_and_of_a_customer)]
