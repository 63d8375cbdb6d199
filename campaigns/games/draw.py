"""The sweepstake draw, a pure function anyone can replay (docs: campaigns/games/draw.py).

Each entry gets the score SHA-256("<seed>:<entry id>") (hex, compared as text); entries are
taken from the lowest score up, skipping members who already won, until `winners` members won.
"""

import hashlib


def seed_fingerprint(seed: str) -> str:
    return hashlib.sha256(seed.encode()).hexdigest()


def draw_winners(*, seed: str, entries: list[tuple[int, int]], winners: int) -> list[int]:
    """entries: (entry id, member id) pairs. Returns the winning entry ids, in draw order."""
    ranked = sorted(entries, key=lambda e: hashlib.sha256(f"{seed}:{e[0]}".encode()).hexdigest())
    chosen: list[int] = []
    members: set[int] = set()
    for entry_id, member_id in ranked:
        if member_id in members:
            continue
        chosen.append(entry_id)
        members.add(member_id)
        if len(chosen) == winners:
            break
    return chosen


def draw_check(
    *,
    seed: str,
    fingerprint: str,
    entries: list[tuple[int, int]],
    winners: int,
    recorded: list[int],
) -> list[str]:
    """Replay a draw: the problems found (empty: the seed hashes to the committed fingerprint
    and the entries replay to the recorded winners, in the same order)."""
    problems = []
    if seed_fingerprint(seed) != fingerprint:
        problems.append(
            f"SHA-256(seed) is {seed_fingerprint(seed)}, not the committed {fingerprint}"
        )
    replayed = draw_winners(seed=seed, entries=entries, winners=winners)
    if replayed != recorded:
        problems.append(f"the replay draws entries {replayed}, the record says {recorded}")
    return problems
