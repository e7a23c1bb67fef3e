// What the tests of deploy/prometheus/gsnap-rules.yml need to know of it: its alerts with their
// annotation templates, its recording rules, and the metric names its expressions use. Read with
// patterns over the text, which the file keeps simple for it (one `expr:` line per rule,
// annotations in double quotes without escapes); promtool itself checks that it is valid YAML.

import assert from "node:assert";

export interface AlertRule {
  readonly alert: string;
  /** Annotation name to its template. */
  readonly annotations: Readonly<Record<string, string>>;
}

export interface RulesFile {
  readonly alerts: readonly AlertRule[];
  readonly records: readonly string[];
  /** The metric names (gsnap_* and up) the expressions read. */
  readonly metricNames: ReadonlySet<string>;
}

export function readRulesFile(text: string): RulesFile {
  const alerts: AlertRule[] = [];
  const records: string[] = [];
  for (const block of text.split(/^\s*- (?=alert:|record:)/m).slice(1)) {
    const record = /^record: (\S+)$/m.exec(block);
    if (record !== null) {
      records.push(record[1]);
      continue;
    }
    const alert = /^alert: (\w+)$/m.exec(block);
    assert(alert !== null, `a rule is an alert or a record: ${block}`);
    const annotations: Record<string, string> = {};
    const section = block.split(/^\s*annotations:$/m)[1] ?? "";
    for (const [, name, template] of section.matchAll(/^\s+(\w+): "(.*)"$/gm)) {
      assert(!template.includes("\\"), `annotations are written without escapes: ${template}`);
      annotations[name] = template;
    }
    alerts.push({ alert: alert[1], annotations });
  }
  const metricNames = new Set<string>();
  for (const [, expr] of text.matchAll(/^\s*expr: (.*)$/gm)) {
    for (const [name] of expr.matchAll(/\bgsnap_\w+/g)) metricNames.add(name);
    if (/\bup\{/.test(expr)) metricNames.add("up");
  }
  return { alerts, records, metricNames };
}

/**
 * An annotation as Prometheus renders it for an alert with `labels`; the rules use no template
 * function but `$labels.NAME`, and a label the alert lacks fails here instead of showing up as
 * "<no value>" in a notification.
 */
export function renderAnnotation(template: string, labels: Readonly<Record<string, string>>) {
  return template.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_all, name: string) => {
    assert(name in labels, `the template names label "${name}", which the alert does not have`);
    return labels[name];
  });
}
