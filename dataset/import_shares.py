"""Turn published per-country answer shares (JSON) into a long table that `--human` reads.

    python dataset/import_shares.py --input shares.json --output dataset/human/shares_WV7.csv
    python show_results/rq1_country_level.py --human dataset/human/shares_WV7.csv

The input is the common shape of the WVS online tool's exports and of papers' supplementary data:

    {"DEU": {"Q57": {"1": 0.26, "2": 0.71, "-1": 0.03}},       # ISO 3166-1 alpha-3 ...
     "156": {"Q57": {"shares": {"1": 62.1, "2": 37.9}, "n": 2993}}}  # ... or the WVS code

Countries are placed by ISO alpha-3 code, WVS code (= ISO 3166-1 numeric; 909 = Northern
Ireland) or name, from dataset/countries.json; items by the ids of the questionnaire and of the
cross-wave map (dataset/questions/WV567.jsonl). Shares may be
fractions or percents, of the valid answers or of all answers (codes outside an item's options,
such as -1 "don't know", count as invalid answers and the rest is renormalized when scoring). An
item may give `n`, the respondents its shares are of: without it, the split-half ceiling and the
pooled population are left out for that country and item. Writes one row per country, item and
code (country_code, country, item_id, option, share, n) and reports what it could not place.

Published shares of a respondent group (e.g. the WVS online tool split by age) go in the same
table: `--group age=18-29 --append` adds them as rows with `group_var`/`group` (the whole
country's rows get `all`), which `--by age` and `--group` read like a prepared table's groups.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from utils.core.missing_packages import explain_missing_packages  # noqa: E402

explain_missing_packages(__name__)  # a missing package: one line naming the install command
import pandas as pd  # noqa: E402
from utils.analysis.answers import questionnaire_items  # noqa: E402
from utils.core.groups import ALL, load_group_vars, parse_group  # noqa: E402
from utils.core.human.microdata import meta_path  # noqa: E402
from utils.core.human.wave_map import COUNTRIES_PATH, load_wave_map  # noqa: E402
from utils.core.errors import UserError  # noqa: E402
from utils.core.logs import log_to_stderr  # noqa: E402

COLUMNS = ["country_code", "country", "item_id", "option", "share", "n"]


def country_index(path: Path = COUNTRIES_PATH) -> dict[str, tuple[int, str]]:
    """Every way a country may be named -> (WVS code, name): 'DEU', 'deu', '276', 'germany'."""
    out = {}
    for c in json.loads(Path(path).read_text(encoding="utf-8"))["countries"]:
        for key in (c["iso3"], str(c["code"]), c["name"]):
            out[str(key).strip().lower()] = (int(c["code"]), c["name"])
    return out


def shares_table(data: dict, items: dict[str, tuple[str, ...]], countries: dict[str, tuple[int, str]]
                 ) -> tuple[pd.DataFrame, dict[str, list[str]]]:
    """The JSON shape -> (long table, what could not be placed: countries, items, codes, values)."""
    rows, unplaced = [], {"countries": [], "items": [], "codes outside the item (kept as invalid)": [],
                          "values that are not shares": []}
    for key, by_item in data.items():
        place = countries.get(str(key).strip().lower())
        if place is None or not isinstance(by_item, dict):
            unplaced["countries"].append(str(key))
            continue
        code, name = place
        for item, value in by_item.items():
            if item not in items:
                unplaced["items"].append(f"{key}/{item}")
                continue
            shares, n = (value.get("shares"), value.get("n")) if isinstance(value, dict) and "shares" in value \
                else (value, None)
            if not isinstance(shares, dict) or not _is_count(n):
                unplaced["values that are not shares"].append(f"{key}/{item}")
                continue
            for option, share in shares.items():
                if not _is_share(share):
                    unplaced["values that are not shares"].append(f"{key}/{item}/{option}")
                    continue
                if str(option) not in items[item]:
                    unplaced["codes outside the item (kept as invalid)"].append(f"{key}/{item}/{option}")
                rows.append((code, name, item, str(option), float(share), n))
    return pd.DataFrame(rows, columns=COLUMNS), unplaced


def _is_share(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0


def _is_count(v) -> bool:
    return v is None or (_is_share(v) and v > 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--input", type=Path, required=True,
                    help='JSON {"<ISO3 or WVS code>": {"<item id>": {"<code>": share}}}')
    ap.add_argument("--output", type=Path, required=True, help="long table (CSV) for --human")
    ap.add_argument("--questions-dir", type=Path, default=None,
                    help="folder of WV7_English.jsonl (default dataset/questions)")
    ap.add_argument("--synthetic", action="store_true", help="mark the table as synthetic (figures then say so)")
    ap.add_argument("--group", default=None, metavar="VAR=LABEL",
                    help="the shares are of one respondent group, e.g. age=18-29 (groups in inputs/groups/groups.json)")
    ap.add_argument("--append", action="store_true",
                    help="add the rows to an existing --output table instead of replacing it (one group at a time)")
    args = ap.parse_args(argv)
    log_to_stderr()
    try:
        try:
            data = json.loads(args.input.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"{args.input} not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{args.input} is not JSON: {exc}") from None
        if not isinstance(data, dict):
            raise UserError(f'{args.input}: expected {{"<ISO3 or WVS code>": {{"<item id>": {{"<code>": share}}}}}}')
        ids, orders = questionnaire_items(args.questions_dir)
        items = {w.id: w.order for w in load_wave_map()} | dict(zip(ids, orders))  # RQ3's items (Q151) too
        table, unplaced = shares_table(data, items, country_index())
        if table.empty:
            raise UserError(f"{args.input}: no share could be placed (countries: ISO alpha-3 or WVS code; "
                            "items: questionnaire ids such as Q57)")
        table = with_group(table, args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.output.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.output, index=False)
    meta_path(args.output).write_text(json.dumps({"source": str(args.input), "kind": "shares",
                                                  "synthetic": bool(args.synthetic)}, indent=1), encoding="utf-8")
    for line in unplaced_lines(unplaced):
        print(line)
    print(f"wrote {args.output}: {table['country_code'].nunique()} countries, {table['item_id'].nunique()} items, "
          f"{len(table)} rows{'' if table['n'].notna().any() else ' (no respondent counts n)'}")
    return 0


def unplaced_lines(unplaced: dict[str, list[str]], shown: int = 12) -> list[str]:
    """What could not be placed, one line per kind. Items are named once by id with the number of
    countries that gave them: a source covering more of the survey than the questionnaire (such
    as CultureSPA's file) would otherwise list each country/item key.

    >>> unplaced_lines({"countries": [], "items": ["AUS/Q7", "MEX/Q7"]})
    ['could not place 1 items (not in the questionnaire or WV567.jsonl): Q7 (2 countries)']
    """
    def listed(keys: list[str]) -> str:
        return ", ".join(keys[:shown]) + (f" and {len(keys) - shown} more" if len(keys) > shown else "")

    lines = []
    for what, keys in unplaced.items():
        if not keys:
            continue
        if what == "items":
            by_item = Counter(k.rsplit("/", 1)[-1] for k in keys)
            named = [f"{i} ({n} countr{'y' if n == 1 else 'ies'})" for i, n in by_item.items()]
            lines.append(f"could not place {len(by_item)} items (not in the questionnaire or WV567.jsonl): "
                         f"{listed(named)}")
        else:
            lines.append(f"could not place {len(keys)} {what}: {listed(keys)}" if "kept" not in what
                         else f"note: {len(keys)} {what}: {listed(keys)}")
    return lines


def with_group(table: pd.DataFrame, args) -> pd.DataFrame:
    """Stamp `--group` on the rows and, with `--append`, put them after the existing table's rows;
    a group the existing table already holds is refused rather than counted twice."""
    if args.group is None and not args.append:
        return table
    var, label = parse_group(args.group, load_group_vars()) if args.group else (ALL, ALL)
    table = table.assign(group_var=var, group=label)
    if not args.append or not args.output.is_file():
        return table
    old = pd.read_csv(args.output, dtype={"option": str, "item_id": str, "group_var": str, "group": str})
    if "group_var" not in old.columns:
        old = old.assign(group_var=ALL, group=ALL)
    if ((old["group_var"] == var) & (old["group"] == label)).any():
        raise UserError(f"{args.output} already holds the rows of {var}={label}; "
                        "write another --output or drop --append")
    return pd.concat([old, table], ignore_index=True)


if __name__ == "__main__":
    sys.exit(main())
