import { type LakeStore, parseS3LakeConfig, S3LakeStore, type WindowSink } from '@genai-pipeline/sinks';

/** The sinks of CONTRACT.md §5 and their options, as the command line or a config file gives them. */
export interface SinkOptions {
  /** Names from SINK_NAMES; the lake is always written (`--lake` is required), `lake` may be named too. */
  sinks: readonly string[];
  s3Uri?: string | undefined;
}

export const SINK_NAMES = ['lake', 's3'] as const;

/** Every chosen sink, opened and checked, ready to take results. */
export interface OpenedSinks {
  /** Extra places the lake's files go to, beside the local lake. */
  lakeStores: LakeStore[];
  windowSinks: WindowSink[];
  /** Each sink's own health (sent, failed, retried, breaker, out_of_horizon...), for the end-of-run report. */
  health(): Record<string, unknown>;
  close(): Promise<void>;
}

function required(value: string | undefined, sink: string, option: string): string {
  if (value === undefined || value.trim() === '') throw new Error(`--sink ${sink} needs ${option}`);
  return value;
}

/** Opens the chosen sinks and checks each can be written before any input is read (fail fast). */
export async function openSinks(options: SinkOptions): Promise<OpenedSinks> {
  const unknown = options.sinks.filter((name) => !(SINK_NAMES as readonly string[]).includes(name));
  if (unknown.length > 0) {
    throw new Error(`unknown sink ${unknown.join(', ')} (available: ${SINK_NAMES.join(', ')})`);
  }
  const chosen = new Set(options.sinks);
  const lakeStores: LakeStore[] = [];
  const healthSources: Record<string, () => unknown> = {};
  const closers: (() => Promise<void> | void)[] = [];
  try {
    if (chosen.has('s3')) {
      const store = S3LakeStore.fromConfig(
        parseS3LakeConfig({ uri: required(options.s3Uri, 's3', '--s3-uri') }),
      );
      closers.push(() => store.destroy());
      await store.ensureWritable();
      lakeStores.push(store);
      healthSources.s3 = () => store.health();
    }
  } catch (error) {
    for (const close of closers) await close();
    throw error;
  }
  return {
    lakeStores,
    windowSinks: [],
    health: () => Object.fromEntries(Object.entries(healthSources).map(([name, health]) => [name, health()])),
    close: async () => {
      for (const close of closers) await close();
    },
  };
}
