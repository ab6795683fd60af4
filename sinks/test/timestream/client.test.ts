import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sdkTimestreamWriter } from '../../src/timestream/client.js';
import { SinkRequestError } from '../../src/util/retriable.js';

const request = {
  DatabaseName: 'db',
  TableName: 'tbl',
  Records: [{ MeasureName: 'm', MeasureValue: '1', Time: '1', Version: 1 }],
};

/** Answers every call (DescribeEndpoints first) with one AWS JSON 1.0 error. */
async function failingEndpoint(
  status: number,
  type: string,
): Promise<{ server: Server; url: string; targets: string[] }> {
  const targets: string[] = [];
  const server = createServer((req, res) => {
    targets.push(String(req.headers['x-amz-target']));
    req.resume();
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.0' });
    res.end(
      JSON.stringify({ __type: `com.amazonaws.timestreamwrite#${type}`, Message: 'from the test server' }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, targets };
}

const writerFor = (endpoint: string) =>
  sdkTimestreamWriter({
    region: 'us-east-1',
    endpoint,
    requestTimeoutMs: 2_000,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });

describe('sdkTimestreamWriter', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
  });

  it('asks DescribeEndpoints at the overridden endpoint first (discovery stays on), once, without SDK retries', async () => {
    const endpoint = await failingEndpoint(503, 'ServiceUnavailable');
    servers.push(endpoint.server);
    const error = await writerFor(endpoint.url)
      .writeRecords(request)
      .catch((e: unknown) => e);
    expect(endpoint.targets).toEqual(['Timestream_20181101.DescribeEndpoints']);
    expect(error).toBeInstanceOf(SinkRequestError);
    expect(error).toMatchObject({
      retriable: true,
      message: expect.stringContaining('endpoint discovery failed'),
    });
  });

  it('says a discovery refused for good is not retriable', async () => {
    const endpoint = await failingEndpoint(403, 'AccessDeniedException');
    servers.push(endpoint.server);
    const error = await writerFor(endpoint.url)
      .writeRecords(request)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      retriable: false,
      message: expect.stringContaining('AccessDeniedException'),
    });
  });

  it('says a refused connection is retriable', async () => {
    const endpoint = await failingEndpoint(500, 'x');
    const url = endpoint.url;
    await new Promise((resolve) => endpoint.server.close(resolve));
    const error = await writerFor(url)
      .writeRecords(request)
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ retriable: true });
  });
});
