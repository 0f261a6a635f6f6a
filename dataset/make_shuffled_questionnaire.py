"""Write `WV7_shuffle.jsonl`: the English questionnaire with each item's options shown in a fixed
random order (the 'order' sensitivity variant). Option codes stay attached to their labels and the
`order` field keeps the semantic order, so scores stay comparable; the seed is stored per line.

    python dataset/make_shuffled_questionnaire.py --seed 2025
"""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
from utils.core.flag_parser import FlagParser  # noqa: E402
from utils.core.paths import QUESTIONS_DIR  # noqa: E402


def shuffle_items(lines: list[dict], seed: int) -> list[dict]:
    rng = random.Random(seed)
    out = []
    for obj in lines:
        pairs = shuffled = list(zip(obj["choice_keys"], obj["choices"]))
        while len(pairs) > 1 and shuffled == pairs:  # a shuffle that leaves the order unchanged tests nothing
            shuffled = rng.sample(pairs, len(pairs))
        keys, choices = [k for k, _ in shuffled], [c for _, c in shuffled]
        out.append({**obj, "choices": choices, "choice_keys": keys,
                    "answer": "\n".join(f"{k}. {c}" for k, c in shuffled),
                    "order": obj.get("order") or obj["choice_keys"], "shuffle_seed": seed})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = FlagParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2025, help="random seed (default 2025)")
    ap.add_argument("--source", type=Path, default=QUESTIONS_DIR / "WV7_English.jsonl")
    ap.add_argument("--out", type=Path, default=QUESTIONS_DIR / "WV7_shuffle.jsonl")
    args = ap.parse_args(argv)
    lines = [json.loads(line) for line in args.source.read_text(encoding="utf-8").splitlines() if line.strip()]
    with args.out.open("w", encoding="utf-8") as fh:
        for obj in shuffle_items(lines, args.seed):
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    print(f"wrote {len(lines)} items to {args.out} (seed {args.seed})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
