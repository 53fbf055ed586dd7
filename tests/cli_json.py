# cli_json.py DESC EXPR [DESC EXPR...] < JSON: the CLI test scripts' JSON
# checks (cli_lib.sh jtrue). Each EXPR is a Python expression over d (the
# parsed document), E (the environment), R (row counts per table of the
# SQLite store $ROWS_DB, when set), json and re. Prints how many held; each
# that does not is a FAIL line on stderr.
import json, os, re, sqlite3, sys

raw = sys.stdin.read()
args = sys.argv[1:]
try:
    d = json.loads(raw)
except ValueError as e:
    for desc in args[0::2]:
        print("FAIL: %s: output is not JSON (%s): %s" % (desc, e, raw[:300]), file=sys.stderr)
    print(0)
    sys.exit(0)
R = {}
if os.environ.get("ROWS_DB"):
    c = sqlite3.connect(os.environ["ROWS_DB"])
    for (t,) in c.execute("select name from sqlite_master where type='table'"):
        R[t] = c.execute('select count(*) from "%s"' % t).fetchone()[0]
    c.close()
passed = 0
for desc, expr in zip(args[0::2], args[1::2]):
    try:
        r = eval(expr, {"d": d, "E": os.environ, "R": R, "json": json, "re": re})
    except Exception as e:
        r = False
        print("python error in %s: %r" % (desc, e), file=sys.stderr)
    if r:
        passed += 1
    else:
        print("FAIL: %s: %s is false for: %s" % (desc, expr, raw[:800]), file=sys.stderr)
print(passed)
