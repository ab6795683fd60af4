import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addSinkOptions, sinkOption } from '../../src/cli/sink-options.js';

/** Each sink setting: its flag, a value, and the option it parses into. */
const SETTINGS = [
  { flag: '--s3-uri', value: 's3://bucket/prefix', key: 's3Uri' },
  { flag: '--cloudwatch-namespace', value: 'GenAI/Test', key: 'cloudwatchNamespace' },
  { flag: '--timestream-database', value: 'db', key: 'timestreamDatabase' },
  { flag: '--timestream-table', value: 'table', key: 'timestreamTable' },
  { flag: '--influx-url', value: 'http://127.0.0.1:8086', key: 'influxUrl' },
  { flag: '--influx-token', value: 'token', key: 'influxToken' },
  { flag: '--influx-bucket', value: 'bucket', key: 'influxBucket' },
  { flag: '--influx-org', value: 'org', key: 'influxOrg' },
  { flag: '--influx-db', value: 'database', key: 'influxDb' },
];

/** A command carrying the sink options, made testable: commander throws instead of exiting. */
function commandWith(sink = sinkOption()): Command {
  const command = addSinkOptions(new Command('sinks'), sink);
  command.exitOverride();
  command.configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  return command;
}

describe('addSinkOptions', () => {
  it('adds --sink and every sink setting, which parse into their camelCase options', () => {
    const command = commandWith();
    const args = SETTINGS.flatMap(({ flag, value }) => [flag, value]);
    command.parse(['--sink', 's3,influxdb', ...args], { from: 'user' });
    expect(command.opts()).toEqual({
      sink: 's3,influxdb',
      ...Object.fromEntries(SETTINGS.map(({ key, value }) => [key, value])),
    });
    expect(command.options.map((option) => option.long)).toEqual([
      '--sink',
      ...SETTINGS.map(({ flag }) => flag),
    ]);
  });

  it('leaves --sink unset without a default, and keeps the default and check the command gives it', () => {
    expect(commandWith().parse([], { from: 'user' }).opts().sink).toBeUndefined();
    const lakeByDefault = () =>
      commandWith(
        sinkOption()
          .default(['lake'], 'lake')
          .argParser((value) => value.split(',')),
      );
    expect(lakeByDefault().parse([], { from: 'user' }).opts().sink).toEqual(['lake']);
    expect(lakeByDefault().parse(['--sink', 'lake,s3'], { from: 'user' }).opts().sink).toEqual([
      'lake',
      's3',
    ]);
  });

  it('names every sink in the help of --sink', () => {
    expect(sinkOption().description).toBe(
      'comma-separated sinks besides the lake (lake, s3, cloudwatch, timestream, influxdb)',
    );
  });

  it('rejects a sink setting given without its value', () => {
    expect(() => commandWith().parse(['--influx-url'], { from: 'user' })).toThrow(/--influx-url <url>/);
  });
});
