import { type Command, Option } from 'commander';
import { SINK_NAMES } from '../output/sink-setup.js';

/**
 * `--sink <names>` as it stands: no default and no check, which each command adds as it needs (run
 * leaves both to its configuration, so that the environment and the config file can set it too).
 */
export function sinkOption(): Option {
  return new Option('--sink <names>', `comma-separated sinks besides the lake (${SINK_NAMES.join(', ')})`);
}

/** `sink` (see sinkOption) and the options that configure each sink (CONTRACT.md §5), shared by replay and run. */
export function addSinkOptions(command: Command, sink: Option): Command {
  return command
    .addOption(sink)
    .option('--s3-uri <uri>', 'with --sink s3: s3://bucket/prefix for the lake tables')
    .option('--cloudwatch-namespace <namespace>', 'with --sink cloudwatch (default GenAI/Pipeline)')
    .option('--timestream-database <name>', 'with --sink timestream')
    .option('--timestream-table <name>', 'with --sink timestream')
    .option('--influx-url <url>', 'with --sink influxdb: http(s)://host:port')
    .option('--influx-token <token>', 'with --sink influxdb: API token (v2 API)')
    .option('--influx-bucket <bucket>', 'with --sink influxdb: bucket, for the v2 write API')
    .option('--influx-org <org>', 'with --sink influxdb and --influx-bucket: organisation')
    .option('--influx-db <database>', 'with --sink influxdb: database, for the v1 write API');
}
