/**
 * Every metric a synthesized template references, found by walking it the way CloudWatch reads it:
 * dashboard bodies (metric arrays and SEARCH expressions), alarms (MetricName, MetricStat,
 * Metrics Insights SELECT expressions) and anomaly detectors.
 */
import type { Template } from 'aws-cdk-lib/assertions';
import { joined, resourcesOf } from './synth.js';

export interface MetricReference {
  namespace: string;
  name: string;
  /** Where it was found (dashboard widget title or alarm name), for failure messages. */
  where: string;
}

/** Names inside SEARCH('{Namespace,Dims} MetricName="X"', ...) and SELECT f(X) FROM SCHEMA("Namespace", ...). */
export function expressionReferences(expression: string, where: string): MetricReference[] {
  const found: MetricReference[] = [];
  for (const match of expression.matchAll(/SEARCH\('\{([^,}]+)[^}]*\}\s*MetricName="([^"]+)"/g)) {
    found.push({ namespace: match[1] as string, name: match[2] as string, where });
  }
  for (const match of expression.matchAll(/SELECT\s+\w+\((\w+)\)\s+FROM\s+SCHEMA\("([^"]+)"/g)) {
    found.push({ namespace: match[2] as string, name: match[1] as string, where });
  }
  return found;
}

export function dashboardReferences(template: Template): MetricReference[] {
  const found: MetricReference[] = [];
  for (const dashboard of Object.values(resourcesOf(template, 'AWS::CloudWatch::Dashboard'))) {
    const body = JSON.parse(joined(dashboard.Properties.DashboardBody)) as {
      widgets: { properties: { title?: string; metrics?: unknown[][] } }[];
    };
    for (const widget of body.widgets) {
      const where = widget.properties.title ?? '(untitled widget)';
      for (const entry of widget.properties.metrics ?? []) {
        const [first, second] = entry;
        if (typeof first === 'string' && typeof second === 'string') {
          found.push({ namespace: first, name: second, where });
        } else if (typeof first === 'object' && first !== null && 'expression' in first) {
          found.push(...expressionReferences(String(first.expression), where));
        } else {
          throw new Error(`${where}: unrecognised metric entry ${JSON.stringify(entry)}`);
        }
      }
    }
  }
  return found;
}

interface MetricDataQuery {
  Expression?: string;
  MetricStat?: { Metric: { Namespace: string; MetricName: string } };
}

export function alarmReferences(template: Template): MetricReference[] {
  const found: MetricReference[] = [];
  for (const alarm of Object.values(resourcesOf(template, 'AWS::CloudWatch::Alarm'))) {
    const props = alarm.Properties as {
      AlarmName: string;
      Namespace?: string;
      MetricName?: string;
      Metrics?: MetricDataQuery[];
    };
    const where = props.AlarmName;
    if (props.MetricName !== undefined) {
      found.push({ namespace: props.Namespace ?? '', name: props.MetricName, where });
    }
    for (const query of props.Metrics ?? []) {
      if (query.MetricStat !== undefined) {
        found.push({
          namespace: query.MetricStat.Metric.Namespace,
          name: query.MetricStat.Metric.MetricName,
          where,
        });
      }
      if (query.Expression !== undefined) found.push(...expressionReferences(query.Expression, where));
    }
  }
  for (const detector of Object.values(resourcesOf(template, 'AWS::CloudWatch::AnomalyDetector'))) {
    const single = detector.Properties.SingleMetricAnomalyDetector as {
      Namespace: string;
      MetricName: string;
    };
    found.push({ namespace: single.Namespace, name: single.MetricName, where: 'anomaly detector' });
  }
  return found;
}
