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
  return partitionKeyFor(event.event.service, event.event.model_id);
}

/** The partition key of a (service, model) pair: what the processors use to tell which shard a key's events go to. */
export function partitionKeyFor(service: string, modelId: string): string {
  const key = `${service}\u0000${modelId}`;
  return key.length <= MAX_PARTITION_KEY_CHARS ? key : createHash('sha256').update(key).digest('hex');
}
