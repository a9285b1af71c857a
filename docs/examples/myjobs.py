"""Jobs of my own for fpx (docs/jobs.md). Register them with

    FPX_JOBS=primes=myjobs:count_primes,words=myjobs:count_words,countdown=myjobs:countdown
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from server.jobs import JobContext, in_thread


def count_primes(ctx: JobContext, below: int, every: int = 20_000) -> dict:
    """Count the primes below a number (CPU-bound: runs in a job process)."""
    primes = 0
    for n in range(2, below):
        if all(n % d for d in range(2, int(n**0.5) + 1)):
            primes += 1
        if n % every == 0:
            ctx.raise_if_cancelled()
            ctx.progress(n / below, f"{primes} primes below {n}")
    return {"below": below, "primes": primes}


@in_thread
def count_words(ctx: JobContext, path: str, top: int = 3) -> dict[str, int]:
    """The most common words of a text file (I/O-bound: runs in a thread)."""
    words: Counter[str] = Counter()
    lines = Path(path).read_text().splitlines()
    for i, line in enumerate(lines, 1):
        words.update(w.lower() for w in line.split() if w.isalpha())
        ctx.progress(i / len(lines))
    return dict(words.most_common(top))


async def countdown(ctx: JobContext, seconds: int = 3) -> str:
    """Count down, one note a second (async: runs on the event loop)."""
    for left in range(seconds, 0, -1):
        ctx.progress((seconds - left) / seconds, f"{left} s to go")
        await asyncio.sleep(1)
    return "lift-off"
