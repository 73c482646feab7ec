"""Summarise a py-spy `raw` profile (collapsed stacks): top functions by own and total time.

.venv/bin/python bench/profile_summary.py PROFILE.txt [--top 30] [--grep TEXT]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_LINE = re.compile(r"\s\(.*?:\d+\)$")


def frame_name(frame: str) -> str:
    # "func (path/to/file.py:123)" -> "func (file.py)"
    m = re.match(r"(.*) \((.*?):\d+\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    short = "/".join(path.split("/")[-2:])
    return f"{func} ({short})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--grep", default=None)
    args = parser.parse_args()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in args.profile.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        count = int(n)
        frames = [frame_name(f) for f in stack.split(";")]
        samples += count
        own[frames[-1]] += count
        for f in set(frames):
            total[f] += count
    print(f"{samples} samples")
    print("-- own time")
    for f, n in own.most_common(args.top):
        print(f"{100 * n / samples:5.1f}%  {f}")
    print("-- total time")
    for f, n in total.most_common(args.top * 2):
        if args.grep is None or args.grep in f:
            print(f"{100 * n / samples:5.1f}%  {f}")


if __name__ == "__main__":
    main()
