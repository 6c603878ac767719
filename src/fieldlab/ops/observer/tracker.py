"""Asking a torrent's HTTP tracker for peers (BEP 3 announce, BEP 23 compact answers, BEP 7 ``peers6``).

The announce says we have downloaded nothing and have something left (``left=1``): trackers give a seed's
announce only other downloaders, and the seeds are what we most need to see.  We announce no event and ask for
compact answers; an answer is read up to 1 MiB and parsed with the bounded bencode reader.  UDP trackers (BEP 15)
are not asked (yet): they are counted as skipped in the observer's status.
"""

from __future__ import annotations

import asyncio
import socket
import urllib.parse
import urllib.request
from dataclasses import dataclass

from fieldlab.ops.bencode import BencodeError, decode
from fieldlab.ops.observer.addresses import Confinement, PeerAddress, compact_peers, peer_of

MAX_ANSWER = 1024 * 1024
NUMWANT = 200


class TrackerError(Exception):
    """The tracker gave no usable answer; the message says why."""


@dataclass(frozen=True)
class TrackerAnswer:
    peers: tuple[PeerAddress, ...]
    interval: int | None  # seconds the tracker asks us to wait before the next announce


def announce_url(tracker: str, infohash: bytes, peer_id: bytes, port: int) -> str:
    query = urllib.parse.urlencode({"info_hash": infohash[:20], "peer_id": peer_id, "port": port, "uploaded": 0,
                                    "downloaded": 0, "left": 1, "compact": 1, "numwant": NUMWANT},
                                   quote_via=urllib.parse.quote)  # %20, never "+": trackers differ on "+"
    return tracker + ("&" if "?" in tracker else "?") + query


def parse_answer(data: bytes) -> TrackerAnswer:
    try:
        answer = decode(data, max_elements=50_000)
    except BencodeError as exc:
        raise TrackerError(f"not a tracker answer: {exc}") from None
    if not isinstance(answer, dict):
        raise TrackerError("not a tracker answer")
    failure = answer.get(b"failure reason")
    if isinstance(failure, bytes):
        raise TrackerError(f"the tracker refused: {failure[:200].decode('utf-8', 'replace')}")
    peers: list[PeerAddress] = []
    listed = answer.get(b"peers", b"")
    if isinstance(listed, bytes):
        peers += compact_peers(listed, 6)
    elif isinstance(listed, list):
        peers += [p for p in (peer_of(d.get(b"ip"), d.get(b"port")) for d in listed[:2000] if isinstance(d, dict)) if p]
    if isinstance(answer.get(b"peers6"), bytes):
        peers += compact_peers(answer[b"peers6"], 18)
    interval = answer.get(b"interval")
    return TrackerAnswer(tuple(dict.fromkeys(peers)), interval if isinstance(interval, int) else None)


def is_http_tracker(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https")


async def ask_tracker(tracker: str, infohash: bytes, peer_id: bytes, port: int, confinement: Confinement,
                      timeout: float = 10.0) -> TrackerAnswer:
    """Peers from one HTTP tracker; a tracker outside the confinement is refused before anything is sent."""
    host = urllib.parse.urlsplit(tracker).hostname or ""
    if confinement.networks:
        addresses = await _resolve(host)
        if not addresses or not all(confinement.allows(a) for a in addresses):
            raise TrackerError(f"tracker {host} is outside the networks the observer is confined to")
    url = announce_url(tracker, infohash, peer_id, port)
    return await asyncio.to_thread(_fetch, url, timeout)


async def _resolve(host: str) -> list[str]:
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError:
        return []
    return [f[4][0] for f in found]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - a redirect could leave the confinement
        return None


def _fetch(url: str, timeout: float) -> TrackerAnswer:
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            data = response.read(MAX_ANSWER + 1)
    except (OSError, ValueError) as exc:
        raise TrackerError(f"no answer: {exc}") from None
    if len(data) > MAX_ANSWER:
        raise TrackerError(f"an answer larger than {MAX_ANSWER // 1024} KiB")
    return parse_answer(data)
