import { encodeSingleObject } from '@genai-pipeline/schemas';
import { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { KafkaSource } from '../../src/sources/kafka-source.js';
import type { SourceBatch } from '../../src/sources/source.js';
import { invocationEvent } from '../support/events.js';

const brokers = process.env.KAFKA_BROKERS;
/** Message timestamps (CreateTime, the topic's default) are set here, so receivedAt is known exactly. */
const T0 = Date.now();
if (!brokers) console.info('kafka real-broker source suite skipped: KAFKA_BROKERS is not set');

/** What a source handed over: event ids per partition in order, and the last position of each. */
interface Read {
  ids: Map<string, string[]>;
  positions: Map<string, string>;
  receivedAt: number[];
}

/** Polls until `count` records came (a group join takes a few seconds). */
async function readRecords(source: KafkaSource, count: number): Promise<Read> {
  const read: Read = { ids: new Map(), positions: new Map(), receivedAt: [] };
  let records = 0;
  for (let attempt = 0; attempt < 60 && records < count; attempt++) {
    const batches: SourceBatch[] = await source.poll(count - records, 1_000);
    for (const batch of batches) {
      const ids = read.ids.get(batch.partition) ?? [];
      for (const { record, receivedAt } of batch.entries) {
        ids.push(record.format === 'avro' ? (record.record as { event_id: string }).event_id : record.format);
        read.receivedAt.push(receivedAt);
      }
      read.ids.set(batch.partition, ids);
      read.positions.set(batch.partition, batch.position);
      records += batch.entries.length;
    }
  }
  return read;
}

describe.skipIf(!brokers)('KafkaSource against a real broker (KAFKA_BROKERS)', () => {
  it('reads single-object Avro per partition, commits, and a new member of the group resumes there', async () => {
    const brokerList = (brokers ?? '').split(',');
    const kafka = new Kafka({ clientId: 'genai-processors-test', brokers: brokerList });
    const topic = `genai-processors-test-${Date.now()}`;
    const groupId = `${topic}-pipeline`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    const produce = async (partition: number, eventIds: string[]): Promise<void> => {
      const messages = eventIds.map((eventId, i) => ({
        partition,
        timestamp: String(T0 + i),
        value: encodeSingleObject({ kind: 'invocation', event: invocationEvent({ event_id: eventId }) }),
      }));
      await producer.send({ topic, messages, acks: -1 });
    };
    await produce(0, ['a0', 'a1', 'a2']);
    await produce(1, ['b0', 'b1']);

    const p0 = `${topic}.0`;
    const p1 = `${topic}.1`;
    const first = new KafkaSource({ brokers: brokerList, topic, groupId });
    await first.start(new Map());
    const firstRead = await readRecords(first, 5);
    expect(firstRead.ids).toEqual(
      new Map([
        [p0, ['a0', 'a1', 'a2']],
        [p1, ['b0', 'b1']],
      ]),
    );
    expect(firstRead.positions).toEqual(
      new Map([
        [p0, '3'],
        [p1, '2'],
      ]),
    );
    expect(firstRead.receivedAt.sort((a, b) => a - b)).toEqual([T0, T0, T0 + 1, T0 + 1, T0 + 2]);
    await first.commit(firstRead.positions);
    await first.close();

    await produce(0, ['a3']);
    await produce(1, ['b2']);
    const second = new KafkaSource({ brokers: brokerList, topic, groupId });
    await second.start(new Map());
    const secondRead = await readRecords(second, 2);
    expect(secondRead.ids).toEqual(
      new Map([
        [p0, ['a3']],
        [p1, ['b2']],
      ]),
    );
    expect(secondRead.positions).toEqual(
      new Map([
        [p0, '4'],
        [p1, '3'],
      ]),
    );
    await second.commit(secondRead.positions);
    await second.close();

    // A checkpoint wins over the group's committed offset; partitions without one use the committed offset.
    await produce(1, ['b3']);
    const third = new KafkaSource({ brokers: brokerList, topic, groupId });
    await third.start(new Map([[p0, '1']]));
    const thirdRead = await readRecords(third, 4);
    expect(thirdRead.ids).toEqual(
      new Map([
        [p0, ['a1', 'a2', 'a3']],
        [p1, ['b3']],
      ]),
    );
    await third.close();
    await producer.disconnect();
  }, 180_000);
});
