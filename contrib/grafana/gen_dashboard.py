#!/usr/bin/env python3
"""Writes connbroker.json, the Grafana dashboard (run it after changing the
panels; the JSON is what operators import).  Every metric the panels name is
checked against a live scrape by tests/net/tests_metrics.sh."""
import json, os

SEL = 'interface=~"$interface"'
PANELS = [
    ("SYNs and handshakes /s", "timeseries", [
        (f'sum by (event) (rate(connbroker_datapath_total{{{SEL},event=~"syn_cookie_sent|ack_cookie_ok|ack_cookie_late|ack_cookie_bad"}}[1m]))', "{{event}}")]),
    ("Flows by state", "timeseries", [(f'sum by (state) (connbroker_flows{{{SEL}}})', "{{state}}")]),
    ("Decisions /s by service and rule", "timeseries", [
        (f'sum by (service, rule) (rate(connbroker_decisions_total{{{SEL}}}[1m]))', "{{service}}/{{rule}}")]),
    ("First byte to app: p50, p99", "timeseries", [
        (f'histogram_quantile(0.5, sum by (le) (rate(connbroker_handoff_seconds_bucket{{{SEL}}}[5m])))', "p50"),
        (f'histogram_quantile(0.99, sum by (le) (rate(connbroker_handoff_seconds_bucket{{{SEL}}}[5m])))', "p99")]),
    ("Resets and refusals /s", "timeseries", [
        (f'sum by (event) (rate(connbroker_datapath_total{{{SEL},event=~"rst_no_flow|fin_unbound|rst_unbound|redirect_peer_down_rst"}}[1m]))', "datapath {{event}}"),
        (f'sum by (reason) (rate(connbroker_resets_total{{{SEL}}}[1m]))', "controller: {{reason}}"),
        (f'sum(rate(connbroker_answered_503_total{{{SEL}}}[1m]))', "503: no app in time"),
        (f'sum by (service) (rate(connbroker_wait_timeouts_total{{{SEL}}}[1m]))', "no app in time: {{service}}"),
        (f'sum(rate(connbroker_table_full_total{{{SEL}}}[1m]))', "pending table full"),
        (f'sum(rate(connbroker_source_full_total{{{SEL}}}[1m]))', "one source over its share"),
        (f'sum(rate(connbroker_queue_full_total{{{SEL}}}[1m]))', "service queue full"),
        (f'sum(rate(connbroker_materializations_total{{{SEL},result="failed"}}[1m]))', "TCP_REPAIR failed")]),
    ("Drops /s (the client retransmits)", "timeseries", [
        (f'sum by (event) (rate(connbroker_datapath_total{{{SEL},event=~"data_ring_full|flow_insert_fail|data_bad_csum|data_over_cap|data_out_of_order|rst_rate_limited"}}[1m]))', "{{event}}")]),
    ("App instances", "timeseries", [(f'sum by (app) (connbroker_app_instances{{{SEL}}})', "{{app}}")]),
    ("Pending flows", "timeseries", [(f'sum(connbroker_pending_flows{{{SEL}}})', "pending")]),
    ("Cluster nodes (2 up, 1 suspect, 0 down)", "timeseries", [(f'connbroker_node_up{{{SEL}}}', "{{node}}")]),
    ("Hand-offs to nodes /s", "timeseries", [
        (f'sum by (node, result) (rate(connbroker_handoffs_total{{{SEL}}}[1m]))', "{{node}} {{result}}")]),
    ("Steered flows", "timeseries", [(f'sum(connbroker_steered_flows{{{SEL}}})', "steered")]),
    ("Build", "table", [(f'connbroker_build_info{{{SEL}}}', "{{version}}")]),
]

def panel(i, title, kind, targets):
    return {
        "id": i + 1, "title": title, "type": kind,
        "datasource": {"type": "prometheus", "uid": "${datasource}"},
        "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i // 2) * 8},
        "targets": [{"refId": chr(65 + j), "expr": e, "legendFormat": l,
                     "datasource": {"type": "prometheus", "uid": "${datasource}"}}
                    for j, (e, l) in enumerate(targets)],
    }

dash = {
    "title": "connbroker", "uid": "connbroker", "schemaVersion": 39, "version": 1,
    "tags": ["connbroker", "xdp"], "time": {"from": "now-1h", "to": "now"}, "refresh": "30s",
    "templating": {"list": [
        {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Data source"},
        {"name": "interface", "type": "query", "label": "Interface", "includeAll": True, "multi": True,
         "datasource": {"type": "prometheus", "uid": "${datasource}"},
         "query": "label_values(connbroker_build_info, interface)", "refresh": 2},
    ]},
    "panels": [panel(i, *p) for i, p in enumerate(PANELS)],
}
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "connbroker.json")
with open(out, "w") as f:
    json.dump(dash, f, indent=1)
    f.write("\n")
