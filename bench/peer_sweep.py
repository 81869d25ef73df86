#!/usr/bin/env python3
"""The peer in Onramp's sweep benchmark: refreshing N OAuth grants the way most integrations
do it, in Python with authlib's async client on httpx, at the same concurrency, against the
same sandbox token endpoint. New refresh tokens are kept in a dict (no storage).

Run by `onramp-bench sweep`; prints one JSON line: {"name", "n", "seconds", "peak_kib"}.
"""

import argparse
import asyncio
import json
import resource
import time
import warnings

import httpx

# authlib 1.9 announces a successor to its httpx integration; the integration itself works.
warnings.filterwarnings("ignore", message=".*httpx.*deprecated.*")

from authlib.integrations.httpx_client import AsyncOAuth2Client  # noqa: E402


def reset_peak() -> None:
    # Linux: start the peak resident size over from the current one.
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--concurrency", type=int, required=True)
    ap.add_argument("--setup", required=True)
    args = ap.parse_args()
    with open(args.setup) as f:
        setup = json.load(f)
    tokens = setup["tokens"][: args.n]
    limits = httpx.Limits(max_connections=args.concurrency)
    client = AsyncOAuth2Client(
        client_id=setup["client_id"],
        token_endpoint_auth_method="none",
        limits=limits,
    )
    held: dict[int, str] = {}
    gate = asyncio.Semaphore(args.concurrency)

    async def refresh(i: int, rt: str) -> None:
        async with gate:
            token = await client.refresh_token(setup["token_url"], refresh_token=rt)
            held[i] = token["refresh_token"]

    reset_peak()
    cpu = time.process_time()
    started = time.perf_counter()
    await asyncio.gather(*(refresh(i, rt) for i, rt in enumerate(tokens)))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    await client.aclose()
    assert len(held) == len(tokens)
    print(json.dumps({"name": "python", "n": len(tokens), "seconds": seconds, "peak_kib": peak_kib(), "cpu_seconds": cpu}))


asyncio.run(main())
