#!/usr/bin/python3
# Parses Prometheus text exposition 0.0.4 (a file, or stdin) with the
# reference parser (Debian's python3-prometheus-client) and prints JSON:
# {"families": {name: type}, "samples": [{"name", "labels", "value"}]}.
# Exits 1 on a parse error. Used by tests/integration/0101-metrics-scrape.c.
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read() if len(sys.argv) > 1 else sys.stdin.read()
out = {"families": {}, "samples": []}
try:
    for fam in text_string_to_metric_families(text):
        out["families"][fam.name] = fam.type
        for s in fam.samples:
            out["samples"].append({"name": s.name, "labels": s.labels, "value": s.value})
except Exception as e:  # the parser raises ValueError and friends
    sys.stderr.write("prometheus text did not parse: %s\n" % e)
    sys.exit(1)
json.dump(out, sys.stdout)
