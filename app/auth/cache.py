"""Keys already verified, kept in memory for a few seconds so a key check costs no query.

Every request under `/v1` presents a key, and looking its hash up in the database would add a
round trip to every read. A key found valid is remembered by its hash for `seconds`; within
that time the process trusts it without asking again. So a revocation reaches every process
within `seconds` of its commit (at once in the process that revoked it, which forgets the key
itself), and a key created later is found on its first use, since only valid keys are kept:
an unknown key is looked up every time, and counted against its address, as before.
"""

import time

from app.auth.service import Principal

# Past this many keys the memory is emptied rather than searched for the oldest.
MAX_KEYS = 10_000


class VerifiedKeys:
    def __init__(self, *, seconds: float) -> None:
        self.seconds = seconds
        # Key hash -> the principal behind it, and until when (time.monotonic()) it is trusted.
        self._trusted: dict[str, tuple[Principal, float]] = {}

    def get(self, digest: str) -> Principal | None:
        """The principal behind this key hash, if it was verified within the last `seconds`."""
        found = self._trusted.get(digest)
        if found is None:
            return None
        principal, until = found
        if until <= time.monotonic():
            del self._trusted[digest]
            return None
        return principal

    def keep(self, digest: str, principal: Principal) -> None:
        """Trust a key hash just verified against the database."""
        if self.seconds <= 0:
            return
        if len(self._trusted) >= MAX_KEYS:
            self._trusted.clear()
        self._trusted[digest] = (principal, time.monotonic() + self.seconds)

    def forget(self, key_id: str) -> None:
        """Stop trusting a key (it was revoked in this process)."""
        self._trusted = {d: v for d, v in self._trusted.items() if v[0].key_id != key_id}
