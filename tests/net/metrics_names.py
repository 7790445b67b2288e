#!/usr/bin/env python3
"""Every metric (and every label value matched with = or =~) that the alert
rules and the dashboard in contrib/ name must be in a live scrape.
Usage: metrics_names.py SCRAPE_FILE RULES.yml DASHBOARD.json; prints what is
missing, exits 1 if anything is."""
import json, re, sys

scrape = open(sys.argv[1]).read()
exprs = re.findall(r'expr:\s*(.+)', open(sys.argv[2]).read())
exprs += [t["expr"] for p in json.load(open(sys.argv[3]))["panels"] for t in p["targets"]]
missing = []
for e in exprs:
    for name, labels in re.findall(r'(connbroker_\w+)(\{[^}]*\})?', e):
        if not re.search(r'^' + name + r'[{ ]', scrape, re.M):
            missing.append(name)
        for key, op, val in re.findall(r'(\w+)\s*(=~|=)\s*"([^"]*)"', labels or ""):
            if key == "interface":
                continue
            for v in (val.split("|") if op == "=~" else [val]):
                if not re.search(r'^' + name + r'\{[^}]*' + key + '="' + re.escape(v) + '"', scrape, re.M):
                    missing.append(f'{name}{{{key}="{v}"}}')
print("\n".join(sorted(set(missing))) or f"all {len(exprs)} expressions' metrics found")
sys.exit(1 if missing else 0)
