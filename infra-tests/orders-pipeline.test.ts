import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { lakeTables } from '../core/lake-table';
import orders from '../pipelines/orders';
import { deploy } from './helpers';

interface GlueTableJson {
  Properties: { TableInput: { Name: string; TableType: string; StorageDescriptor?: { Columns?: { Name: string; Type: string }[] } } };
}

describe('orders example (nested fields, a derived column, two aggregates, one of them sessions)', () => {
  const { stack } = deploy(orders);
  const t = Template.fromStack(stack);
  const tables = new Map(Object.values(t.findResources('AWS::Glue::Table') as Record<string, GlueTableJson>).map((r) => [r.Properties.TableInput.Name, r.Properties.TableInput]));
  const columns = (name: string) => (tables.get(name)?.StorageDescriptor?.Columns ?? []).map((c) => `${c.Name} ${c.Type}`);

  test('a Kinesis stream "orders" with 2 shards', () => {
    t.hasResourceProperties('AWS::Kinesis::Stream', { Name: 'orders', ShardCount: 2 });
  });

  test('a storage table and a view per Parquet table, a partials pair per aggregate, and both aggregate views', () => {
    const expected = ['orders_events', 'orders_late', 'orders_partials', 'orders_sessions_30m_partials'].flatMap((n) => [n, `${n}_files`]);
    expect([...tables.keys()].sort()).toEqual([...expected, 'orders_quarantine', 'orders_by_country_5m', 'orders_sessions_30m'].sort());
    // Every table the lake definition names is in the template.
    for (const lt of lakeTables(orders)) expect(tables.has(lt.name), lt.name).toBe(true);
    expect(tables.get('orders_by_country_5m')!.TableType).toBe('VIRTUAL_VIEW');
  });

  test('nested fields are columns named by their schema keys, and the derived column is a bigint', () => {
    expect(columns('orders_events_files')).toEqual(['order_id string', 'customer_id string', 'country string', 'amount double', 'ts timestamp', 'amount_cents bigint', '_from string']);
  });

  test('the views show percentiles as doubles, countIf as a bigint, sessions with their window_end, and closed', () => {
    expect(columns('orders_by_country_5m')).toEqual(['window_start timestamp', 'window_end timestamp', 'country string', 'orders bigint', 'revenue double', 'amount_p50 double', 'amount_p95 double', 'large_orders bigint', 'closed boolean', 'dt string', 'hour int']);
    expect(columns('orders_sessions_30m')).toEqual(['window_start timestamp', 'window_end timestamp', 'customer_id string', 'orders bigint', 'revenue double', 'closed boolean', 'dt string', 'hour int']);
  });
});
