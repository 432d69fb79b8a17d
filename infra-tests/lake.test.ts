import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import clickstream from '../pipelines/clickstream';
import iot from '../pipelines/iot';
import { DataLake } from '../lib/data-lake';
import { prestoViewText } from '../lib/lake-catalog';
import { aggregateView, currentView, lakeTable } from '../core/lake-table';
import { deploy, newStack } from './helpers';

describe('DataLake (shared stack)', () => {
  test('bucket: encrypted, public access blocked, TLS only, access logs, lifecycle for results, quarantine and manifests', () => {
    // GIVEN / WHEN
    const stack = newStack();
    new DataLake(stack, 'Lake');
    const t = Template.fromStack(stack);
    // THEN
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketName: { 'Fn::Join': ['', ['shardflow-lake-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }]] },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: Match.anyValue(), LogFilePrefix: 'lake/' },
      LifecycleConfiguration: {
        Rules: Match.arrayWith([
          Match.objectLike({ Prefix: 'athena-results/', ExpirationInDays: 30 }),
          Match.objectLike({ Prefix: 'quarantine/', ExpirationInDays: 90 }),
          Match.objectLike({ Prefix: '_shardflow/batches/', ExpirationInDays: 14 }),
        ]),
      },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
    t.hasResource('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
  });

  test('KMS encryption on request', () => {
    const stack = newStack();
    new DataLake(stack, 'Lake', { encryption: 'kms' });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: Match.objectLike({ SSEAlgorithm: 'aws:kms' }), BucketKeyEnabled: true })] },
    });
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      WorkGroupConfiguration: Match.objectLike({ ResultConfiguration: Match.objectLike({ EncryptionConfiguration: Match.objectLike({ EncryptionOption: 'SSE_KMS' }) }) }),
    });
  });

  test('Glue database and Athena workgroup: engine 3, enforced encrypted results in the lake, scan cutoff', () => {
    const stack = newStack();
    new DataLake(stack, 'Lake', { bytesScannedCutoffPerQuery: 1_000_000_000 });
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'shardflow' } });
    t.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'shardflow',
      WorkGroupConfiguration: {
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 1_000_000_000,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('LakeBucket') }, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });
});

describe('LakeCatalog (per pipeline)', () => {
  test.each([
    ['clickstream_events_files', 'tables/clickstream_events/'],
    ['clickstream_partials_files', 'tables/clickstream_partials/'],
    ['clickstream_late_files', 'tables/clickstream_late/'],
  ])('Parquet storage table %s with dt/hour partition projection and storage template', (name, location) => {
    const { stack } = deploy(clickstream);
    Template.fromStack(stack).hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'shardflow',
      TableInput: {
        Name: name,
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [{ Name: 'dt', Type: 'string' }, { Name: 'hour', Type: 'int' }],
        Parameters: Match.objectLike({
          'projection.enabled': 'true',
          'projection.dt.type': 'date',
          'projection.dt.format': 'yyyy-MM-dd',
          'projection.dt.range': '2024-01-01,NOW',
          'projection.dt.interval': '1',
          'projection.dt.interval.unit': 'DAYS',
          'projection.hour.type': 'integer',
          'projection.hour.range': '0,23',
          'projection.hour.digits': '2',
          'storage.location.template': {
            'Fn::Join': ['', ['s3://shardflow-lake-', { Ref: 'AWS::AccountId' }, '-', { Ref: 'AWS::Region' }, `/${location}dt=\${dt}/hour=\${hour}/`]],
          },
        }),
        StorageDescriptor: Match.objectLike({ SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' } }),
      },
    });
  });

  test('partials carry the KMV sketch as array<bigint>', () => {
    const { stack } = deploy(clickstream);
    Template.fromStack(stack).hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'clickstream_partials_files',
        StorageDescriptor: Match.objectLike({ Columns: Match.arrayWith([Match.objectLike({ Name: 'users_sketch', Type: 'array<bigint>' }), Match.objectLike({ Name: '_from', Type: 'string' })]) }),
      }),
    });
  });

  test('quarantine is gzipped NDJSON read by the Hive JSON SerDe with the writers\' timestamp format', () => {
    const { stack } = deploy(iot);
    Template.fromStack(stack).hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'iot_quarantine',
        Parameters: Match.objectLike({ classification: 'json', 'projection.enabled': 'true' }),
        StorageDescriptor: Match.objectLike({
          InputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.apache.hive.hcatalog.data.JsonSerDe', Parameters: { 'timestamp.formats': 'yyyy-MM-dd HH:mm:ss.SSS' } },
        }),
      }),
    });
  });

  test.each([
    ['clickstream_events', 'raw'],
    ['clickstream_partials', 'partials'],
    ['clickstream_late', 'late'],
  ] as const)('%s is the current view over its storage table, created after it', (name, role) => {
    // GIVEN the clickstream example / WHEN deployed
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    const table = lakeTable(clickstream, role);
    const view = currentView(table);
    // THEN users query <name>: a view whose SQL drops the objects named in _from, with the table's columns plus dt and hour
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({ Name: name, TableType: 'VIRTUAL_VIEW', Owner: 'hadoop', ViewOriginalText: prestoViewText(view) }),
    });
    expect(view.sql).toContain(`FROM shardflow.${name}_files t`);
    expect(view.sql).toContain(`s."_from" = t."$path"`);
    const decoded = JSON.parse(Buffer.from(/Presto View: (\S+) /.exec(prestoViewText(view))![1]!, 'base64').toString('utf8'));
    expect(decoded.columns.map((c: { name: string }) => c.name)).toEqual([...table.columns.map((c) => c.name), 'dt', 'hour']);
    // AND the view depends on its storage table
    const views = t.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: name } } });
    const storage = Object.keys(t.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: `${name}_files` } } }));
    expect(Object.values(views)[0]).toMatchObject({ DependsOn: expect.arrayContaining(storage) });
  });

  test('quarantine is not compacted: one plain table, no view', () => {
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    expect(Object.keys(t.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'clickstream_quarantine', TableType: 'EXTERNAL_TABLE' } } }))).toHaveLength(1);
    expect(Object.keys(t.findResources('AWS::Glue::Table', { Properties: { TableInput: { Name: 'clickstream_quarantine_files' } } }))).toHaveLength(0);
  });

  test('aggregate view is an Athena view: VIRTUAL_VIEW, presto_view, base64 definition of the merge SQL', () => {
    // GIVEN the clickstream example / WHEN deployed
    const { stack } = deploy(clickstream);
    const t = Template.fromStack(stack);
    const view = aggregateView(clickstream, clickstream.aggregates[0]!);
    // THEN the Glue table is the view
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: Match.objectLike({
        Name: 'clickstream_by_category_1m',
        TableType: 'VIRTUAL_VIEW',
        // A DEFINER view runs as the table's Owner on Athena v3 (Trino); without one it is refused.
        Owner: 'hadoop',
        Parameters: { presto_view: 'true', comment: 'Presto View' },
        ViewExpandedText: '/* Presto View */',
        ViewOriginalText: prestoViewText(view),
      }),
    });
    // AND the encoded definition decodes to the SQL, catalog, schema and Trino column types
    const m = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(prestoViewText(view));
    const decoded = JSON.parse(Buffer.from(m![1]!, 'base64').toString('utf8'));
    expect(decoded).toMatchObject({ originalSql: view.sql, catalog: 'awsdatacatalog', schema: 'shardflow' });
    expect(decoded.columns).toContainEqual({ name: 'window_start', type: 'timestamp(3)' });
    expect(decoded.columns).toContainEqual({ name: 'category', type: 'varchar' });
    expect(decoded.columns).toContainEqual({ name: 'users', type: 'bigint' });
  });
});
