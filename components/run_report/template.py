"""The run report's Jinja2 template: one page, inline CSS and SVG, no script, nothing fetched.

Kept as a Python string rather than a package data file so the report renders
from any install of the package (wheel, editable, the pipeline image) alike.
Numbers carry their exact value in `data-value` so tests and scripts can read
them back without parsing the rounded text.
"""

from __future__ import annotations

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Run report: {{ run.pipeline_name }} {{ run.run_id or "" }}</title>
<style>
body { font-family: sans-serif; margin: 24px auto; max-width: 1180px; color: #222; background: #fff; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { border-bottom: 2px solid #0072B2; padding-bottom: 4px; margin-top: 32px; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #007a3d; font-weight: bold; }
.bad { color: #b00020; font-weight: bold; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.muted { color: #666; }
.card { border: 1px solid #bbb; border-radius: 6px; padding: 8px 16px; background: #fcfcf7; }
pre { background: #f6f6f6; padding: 8px; overflow-x: auto; font-size: 12px; }
.scroll { overflow-x: auto; }
</style>
</head>
<body>
<h1>Run report: pipeline {{ run.pipeline_name }}</h1>
<p class="muted">Run {{ run.run_id or "(the run this report is an artifact of)" }} &middot;
generated {{ generated }} {{ run.source }}</p>

<h2 id="summary">Summary</h2>
<table id="summary-table">
<tr><th>Run</th><td data-field="run_id">{{ run.run_id or "the run this report is an artifact of" }}</td></tr>
{% if run.status %}
<tr><th>Status</th><td data-field="status">{{ run.status }}</td></tr>
{% endif %}
{% if run.started %}
<tr><th>Started</th><td>{{ run.started }}</td></tr>
{% endif %}
{% if run.ended %}
<tr><th>Ended</th><td>{{ run.ended }}</td></tr>
{% endif %}
<tr><th>Model</th><td data-field="model_uri">{{ model.uri if model else "none" }}</td></tr>
<tr><th>Blessed</th><td data-field="blessed" data-value="{{ run.blessed }}">
{% if run.blessed is none %}unknown
{% elif run.blessed %}<span class="ok">yes</span>
{% else %}<span class="bad">no</span>
{% endif %}
</td></tr>
<tr><th>Pushed</th><td data-field="pushed">{{ run.pushed_destination or "not pushed" }}
{% if run.pushed_at %} at {{ run.pushed_at }}{% endif %}
</td></tr>
<tr><th>Config digest</th><td data-field="config_digest">{{ run.config_digest or "not recorded" }}</td></tr>
<tr><th>Code version</th><td data-field="code_version">{{ run.code_version or "not recorded" }}</td></tr>
</table>
{% if notes %}
<ul id="notes">
{% for role, note in notes | dictsort %}
<li class="bad" data-note="{{ role }}">{{ note }}</li>
{% endfor %}
</ul>
{% endif %}

<h2 id="data">Data</h2>
{% if data %}
<table id="rows-table"><tr><th>split</th><th>rows</th></tr>
{% for split, count in data.rows | dictsort %}
<tr><td>{{ split }}</td>
<td class="num" data-split="{{ split }}" data-value="{{ count }}">{{ "{:,}".format(count) }}</td></tr>
{% endfor %}
</table>
{% elif notes.get("statistics") %}
<p class="bad">The statistics could not be read: {{ notes["statistics"] }}.</p>
{% else %}
<p class="muted">No statistics were recorded.</p>
{% endif %}
<h3>Anomalies</h3>
{% if notes.get("anomalies") %}
<p class="bad">The anomalies could not be read: {{ notes["anomalies"] }}.</p>
{% elif anomalies is none %}
<p class="muted">No anomalies artifact was recorded.</p>
{% elif anomalies %}
<ul id="anomalies">
{% for line in anomalies %}
<li class="bad">{{ line }}</li>
{% endfor %}
</ul>
{% else %}
<p id="anomalies" class="ok">No schema anomalies.</p>
{% endif %}
{% if data and data.features %}
<details><summary>{{ data.features | length }} features (training split)</summary>
<table><tr><th>feature</th><th>type</th><th>missing</th><th>summary</th></tr>
{% for f in data.features %}
<tr><td>{{ f.name }}</td><td>{{ f.type }}</td>
<td class="num">{{ "%.1f%%" | format(100 * f.missing) }}</td><td>{{ f.summary }}</td></tr>
{% endfor %}
</table></details>
{% endif %}

<h2 id="training">Training</h2>
{% if training %}
<p id="training-line">{{ training_line }}.</p>
{% if scaling_line %}<p id="data-scaling">{{ scaling_line }}.</p>{% endif %}
<div class="charts">{{ loss_chart }}{{ rce_chart }}</div>
{% elif notes.get("model_run") %}
<p class="bad">The training history could not be read: {{ notes["model_run"] }}.</p>
{% else %}
<p class="muted">No training summary was recorded.</p>
{% endif %}
{% if platt %}
<h3 id="calibration">Calibration</h3>
<p id="calibration-line">{{ platt_line }}</p>
{% if platt.applied %}
<table id="calibration-effect"><tr><th>eval split, unweighted</th><th>before</th><th>after</th></tr>
{% for label, before, after in platt.rows %}
<tr><td>{{ label }}</td>
<td class="num" data-value="{{ before | repr }}">{{ before | number if before is not none else "n/a" }}</td>
<td class="num" data-value="{{ after | repr }}">{{ after | number if after is not none else "n/a" }}</td></tr>
{% endfor %}
</table>
<p class="muted">Platt scaling, sigmoid(a &middot; logit + b), fitted after training on the eval split that
also gates the model, and applied in the exported serving graph: the Evaluator's metrics below are
those of the calibrated predictions. It is monotone, so AUC and the ranking metrics do not move.</p>
{% endif %}
{% endif %}

<h2 id="evaluation">Evaluation</h2>
{% if gates %}
<table id="gates"><tr><th>gate</th><th>rule</th><th>value</th><th>outcome</th></tr>
{% for g in gates %}
<tr><td>{{ g.metric }}</td><td>{{ g.rule }}</td>
<td class="num" data-value="{{ g.value }}">{{ g.value | number if g.value is not none else "n/a" }}</td>
<td>
{% if g.passed %}<span class="ok">passed</span>{% else %}<span class="bad">failed</span>{% endif %}
</td></tr>
{% endfor %}
</table>
{% endif %}
{% if metrics %}
<div class="scroll"><table id="metrics"><tr><th>slice</th>
{% for m in metric_columns %}<th>{{ m }}</th>{% endfor %}
</tr>
{% for slice_name in slice_names %}
<tr><td>{{ slice_name }}</td>
{% for m in metric_columns %}
{% set v = metrics[slice_name].get(m) %}
{% if v is none %}
<td class="num"></td>
{% else %}
<td class="num" data-slice="{{ slice_name }}" data-metric="{{ m }}"
  data-value="{{ v | repr }}">{{ v | number }}</td>
{% endif %}
{% endfor %}
</tr>
{% endfor %}
</table></div>
<div class="charts">{{ calibration_chart }}{{ recall_chart }}</div>
<details><summary>All {{ metrics["Overall"] | length }} overall metrics</summary>
<table id="all-metrics">
{% for name, v in metrics["Overall"] | dictsort %}
<tr><td>{{ name }}</td><td class="num" data-value="{{ v | repr }}">{{ v | number }}</td></tr>
{% endfor %}
</table>
</details>
{% elif notes.get("evaluation") %}
<p class="bad">The evaluation could not be read: {{ notes["evaluation"] }}.</p>
{% else %}
<p class="muted">No evaluation was recorded.</p>
{% endif %}

<h2 id="lineage">Lineage</h2>
<div class="scroll">{{ lineage_chart }}</div>
<table id="artifacts"><tr><th>role</th><th>artifact</th><th>type</th><th>uri</th></tr>
{% for a in artifacts %}
<tr><td>{{ a.role }}</td>
<td class="num" data-role="{{ a.role }}" data-value="{{ a.id }}">{{ a.id if a.id is not none else "" }}</td>
<td>{{ a.type }}</td><td>{{ a.uri }}</td></tr>
{% endfor %}
</table>

<h2 id="model-card">Model card</h2>
<div class="card">
{% for section in card %}
<h3>{{ section.heading }}</h3>
<ul>
{% for line in section.lines %}
<li>{{ line }}</li>
{% endfor %}
</ul>
{% endfor %}
</div>

<h2 id="configuration">Configuration</h2>
{% if settings %}
<details><summary>Model settings (as exported with the model)</summary>
<pre>{{ settings | tojson(indent=2) }}</pre></details>
{% elif notes.get("model") %}
<p class="bad">The model settings could not be read: {{ notes["model"] }}.</p>
{% endif %}
{% if run.config %}
<details><summary>Pipeline config (digest {{ run.config_digest }})</summary>
<pre>{{ run.config | tojson(indent=2) }}</pre></details>
{% else %}
<p class="muted">The pipeline config of this run was not recorded.</p>
{% endif %}
</body>
</html>
"""
