"""Runs analytics SQL on the current ClickHouse engine, in process (chdb).

Reads JSON from stdin: {"statements": [...], "queries": {"name": "sql", ...}}. Executes
the statements in order in a fresh session on database `bazaar`, then each query, and
prints {"name": "<TabSeparatedWithNames result>", ...}. Any failing statement or query
exits 1 naming it: the Rust test that calls this reports it.
"""

import json
import sys

from chdb import session


def main() -> int:
    request = json.load(sys.stdin)
    db = session.Session()
    db.query("CREATE DATABASE IF NOT EXISTS bazaar")
    db.query("USE bazaar")
    for number, statement in enumerate(request["statements"], 1):
        try:
            db.query(statement)
        except Exception as error:  # chdb raises its own error type per failure
            print(f"statement {number} failed: {error}\n{statement}", file=sys.stderr)
            return 1
    results = {}
    for name, sql in request["queries"].items():
        try:
            results[name] = str(db.query(sql, "TabSeparatedWithNames"))
        except Exception as error:
            print(f"query {name} failed: {error}\n{sql}", file=sys.stderr)
            return 1
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
