import { createHash } from 'node:crypto';
import type { TelemetryEvent } from '@genai-pipeline/schemas';

/** Kinesis partition keys are 1 to 256 Unicode characters (PutRecordsRequestEntry.PartitionKey). */
export const MAX_PARTITION_KEY_CHARS = 256;

/**
 * The Kafka key and Kinesis partition key of an event: `service + "\u0000" + model_id` (CONTRACT.md
 * §2: every rollup key lives in one partition). NUL cannot be confused with a character of either
 * name in practice, so distinct (service, model) pairs never share a key by concatenation
 * ("a"+"bc" vs "ab"+"c"). Scores carry the same two fields, so they land beside their invocations.
 * A pair longer than 256 characters is keyed by the SHA-256 hex of that string instead: still
 * stable, so the pair still maps to one partition.
 */
export function partitionKeyOf(event: TelemetryEvent): string {
  const key = `${event.event.service}\u0000${event.event.model_id}`;
  return key.length <= MAX_PARTITION_KEY_CHARS ? key : createHash('sha256').update(key).digest('hex');
}
