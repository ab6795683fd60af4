/**
 * The Kafka test broker through a second, independent client: Debian's kcat (librdkafka). It keeps
 * the broker honest: passing with kafkajs alone could mean the broker merely agrees with one client.
 *
 * kcat options used, and why:
 * - `-X broker.address.family=v4`: the broker listens on 127.0.0.1 only; never try ::1.
 * - `-X api.version.request=true` (librdkafka's default, stated): librdkafka asks ApiVersions and
 *   enables features (record batch v2, idempotence, balanced groups) from the advertised versions.
 * - `-X check.crcs=true` when consuming: verifies every batch's CRC-32C, proving that assigning
 *   offsets by rewriting baseOffset left the client's checksum valid.
 * - `-u` in group mode: unbuffered output, so the test sees messages while kcat keeps running.
 * - `-X auto.offset.reset=earliest` in group mode: a new group starts at the beginning.
 * - `-E` where the broker drops a producer's connection: with one broker that makes "all brokers
 *   down", on which kcat exits unless told not to; librdkafka itself reconnects and retries.
 */
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { CompressionTypes, Kafka, logLevel, Partitioners } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { type KafkaBroker, startKafkaBroker } from '../kafka-broker/broker.js';

const kcatInstalled = spawnSync('kcat', ['-V']).status === 0;
const COMMON_OPTIONS = ['-X', 'broker.address.family=v4', '-X', 'api.version.request=true'];
const MESSAGE = /^(\S+) (\S+) (\d+) (\d+)$/;

interface Consumed {
  key: string;
  value: string;
  partition: number;
  offset: number;
}

/** Lines printed with `-f '%k %s %p %o\n'`. */
function parseMessages(output: string): Consumed[] {
  return output
    .split('\n')
    .map((line) => MESSAGE.exec(line))
    .filter((match) => match !== null)
    .map(([, key, value, partition, offset]) => ({
      key: key as string,
      value: value as string,
      partition: Number(partition),
      offset: Number(offset),
    }));
}

/** Messages as the `key:value` lines they were produced from, sorted: partitions interleave freely. */
const sortedLines = (messages: readonly Consumed[]) =>
  messages.map(({ key, value }) => `${key}:${value}`).sort();

describe.skipIf(!kcatInstalled && !process.env.CI)(
  'Kafka test broker with kcat (librdkafka); needs `kcat` on PATH (apt-get install kcat), required in CI',
  () => {
    let broker: KafkaBroker;
    const brokerLog: string[] = [];
    const requests: { api: string; version: number; clientId: string | null }[] = [];
    const running = new Set<ChildProcess>();

    beforeAll(async () => {
      broker = await startKafkaBroker({
        log: (message) => brokerLog.push(message),
        onRequest: (request) => requests.push(request),
      });
    });

    afterAll(async () => {
      for (const child of running) child.kill('SIGKILL');
      await broker.stop();
    });

    // librdkafka must only ever send what the broker advertised (it would close the connection).
    afterEach(() => {
      expect(brokerLog.filter((line) => line.includes('unsupported') || line.includes('malformed'))).toEqual(
        [],
      );
    });

    /** The versions librdkafka used for `api` since request number `from`. */
    const versionsUsed = (api: string, from: number) =>
      new Set(
        requests
          .slice(from)
          .filter((request) => request.clientId === 'rdkafka' && request.api === api)
          .map((request) => request.version),
      );

    /** Runs kcat to completion (asynchronously: the broker shares this process's event loop). */
    function kcat(args: readonly string[], input = ''): Promise<{ stdout: string; stderr: string }> {
      return new Promise((resolve, reject) => {
        const child = execFile(
          'kcat',
          [...args, '-b', broker.brokers, ...COMMON_OPTIONS],
          { timeout: 30_000 },
          (error, stdout, stderr) => {
            if (error) reject(new Error(`kcat ${args.join(' ')} failed: ${error.message}\n${stderr}`));
            else resolve({ stdout, stderr });
          },
        );
        child.stdin?.end(input);
      });
    }

    function produceLines(topic: string, lines: readonly string[], options: readonly string[] = []) {
      return kcat(['-P', '-t', topic, '-K', ':', ...options], `${lines.join('\n')}\n`);
    }

    async function consumeAll(topic: string): Promise<Consumed[]> {
      const { stdout } = await kcat([
        '-C',
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-f',
        '%k %s %p %o\\n',
        '-X',
        'check.crcs=true',
      ]);
      return parseMessages(stdout);
    }

    async function createTopic(topic: string, numPartitions: number): Promise<void> {
      const admin = kafkajs().admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions }] });
      await admin.disconnect();
    }

    function kafkajs(): Kafka {
      return new Kafka({ clientId: 'kafkajs', brokers: [broker.brokers], logLevel: logLevel.NOTHING });
    }

    /** A `kcat -G` balanced consumer running in the background, its output collected. */
    function startGroupMember(groupId: string, topic: string, options: readonly string[] = []) {
      const child = spawn('kcat', [
        '-G',
        groupId,
        '-b',
        broker.brokers,
        ...COMMON_OPTIONS,
        '-X',
        'auto.offset.reset=earliest',
        '-u',
        '-f',
        '%k %s %p %o\\n',
        ...options,
        topic,
      ]);
      running.add(child);
      const output = { stdout: '', stderr: '' };
      child.stdout.on('data', (chunk: Buffer) => {
        output.stdout += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        output.stderr += chunk.toString('utf8');
      });
      const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
      return {
        messages: () => parseMessages(output.stdout),
        /** The partitions of its latest assignment, from kcat's "rebalanced ... assigned:" notices. */
        assigned: () => {
          const notices = [...output.stderr.matchAll(/rebalanced \(memberid [^)]*\): assigned: ([^\n]*)/g)];
          const latest = notices.at(-1)?.[1] ?? '';
          return [...latest.matchAll(/\[(\d+)\]/g)].map((match) => Number(match[1])).sort();
        },
        stderr: () => output.stderr,
        /** SIGTERM: kcat commits, leaves the group and exits. SIGKILL: it just disappears. */
        async stop(signal: NodeJS.Signals = 'SIGTERM') {
          child.kill(signal);
          await exited;
          running.delete(child);
        },
      };
    }

    const waitUntil = (check: () => void) => vi.waitFor(check, { timeout: 60_000, interval: 100 });

    it.each(['none', 'gzip', 'snappy', 'lz4'])(
      'produces keyed messages with -z %s and consumes them back, CRCs intact',
      async (codec) => {
        const topic = `kcat-${codec}`;
        await createTopic(topic, 3);
        const lines = Array.from({ length: 50 }, (_, index) => `key-${index % 5}:value-${index}`);
        await produceLines(topic, lines, codec === 'none' ? [] : ['-z', codec]);

        const consumed = await consumeAll(topic);
        expect(sortedLines(consumed)).toEqual([...lines].sort());
        for (let key = 0; key < 5; key++) {
          const ofKey = consumed.filter((message) => message.key === `key-${key}`);
          expect(ofKey.map((message) => message.value)).toEqual(
            lines.filter((line) => line.startsWith(`key-${key}:`)).map((line) => line.split(':')[1]),
          );
          expect(new Set(ofKey.map((message) => message.partition)).size).toBe(1);
        }
        for (const partition of [0, 1, 2]) {
          const offsets = consumed.filter((message) => message.partition === partition).map((m) => m.offset);
          expect(offsets).toEqual(offsets.map((_, index) => index));
        }
      },
    );

    it('keeps an idempotent librdkafka producer exactly-once when acknowledgements are lost', async () => {
      await createTopic('kcat-idempotent', 2);
      const lines = Array.from({ length: 40 }, (_, index) => `key-${index % 4}:value-${index}`);
      broker.faults.loseProduceAcks(2);
      const firstRequest = requests.length;
      const duplicatesBefore = brokerLog.filter((line) => line.startsWith('duplicate batch')).length;
      await produceLines('kcat-idempotent', lines, ['-E', '-X', 'enable.idempotence=true', '-z', 'gzip']);

      expect(brokerLog.filter((line) => line.startsWith('duplicate batch')).length).toBeGreaterThan(
        duplicatesBefore,
      );
      const consumed = await consumeAll('kcat-idempotent');
      expect(sortedLines(consumed)).toEqual([...lines].sort());
      // InitProducerId v2+ is a flexible version (compact strings, tagged fields, header v2).
      expect(Math.min(...versionsUsed('InitProducerId', firstRequest))).toBeGreaterThanOrEqual(2);
    });

    it('runs a balanced consumer group (-G) that commits offsets, resumes after them and rebalances', async () => {
      await createTopic('kcat-group', 3);
      const firstRequest = requests.length;
      const first = Array.from({ length: 30 }, (_, index) => `key-${index % 6}:first-${index}`);
      await produceLines('kcat-group', first);

      const member = startGroupMember('kcat-group-1', 'kcat-group');
      await waitUntil(() => expect(member.messages()).toHaveLength(first.length));
      await member.stop();
      expect(sortedLines(member.messages())).toEqual([...first].sort());

      // A new member of the same group starts after the offsets the first one committed.
      const second = Array.from({ length: 12 }, (_, index) => `key-${index % 6}:second-${index}`);
      await produceLines('kcat-group', second);
      const resumed = startGroupMember('kcat-group-1', 'kcat-group');
      await waitUntil(() => expect(resumed.messages()).toHaveLength(second.length));

      // A second member joins: the partitions are split between the two.
      const joiner = startGroupMember('kcat-group-1', 'kcat-group');
      await waitUntil(() => {
        expect(resumed.assigned().length).toBeGreaterThan(0);
        expect(joiner.assigned().length).toBeGreaterThan(0);
        expect([...resumed.assigned(), ...joiner.assigned()].sort()).toEqual([0, 1, 2]);
      });
      // It leaves: the remaining member takes every partition again.
      await joiner.stop();
      await waitUntil(() => expect(resumed.assigned()).toEqual([0, 1, 2]));
      await resumed.stop();
      expect(sortedLines(resumed.messages())).toEqual([...second].sort());
      // ApiVersions v3 (a fallback would show v0) and OffsetFetch v6+ are flexible versions.
      expect(versionsUsed('ApiVersions', firstRequest)).toEqual(new Set([3]));
      expect(Math.min(...versionsUsed('OffsetFetch', firstRequest))).toBeGreaterThanOrEqual(6);
    });

    it('removes a killed group member when its session times out and gives its partitions to the other', async () => {
      await createTopic('kcat-session', 2);
      const shortSession = ['-X', 'session.timeout.ms=2000', '-X', 'heartbeat.interval.ms=200'];
      const survivor = startGroupMember('kcat-session-group', 'kcat-session', shortSession);
      await waitUntil(() => expect(survivor.assigned()).toEqual([0, 1]));
      const victim = startGroupMember('kcat-session-group', 'kcat-session', shortSession);
      await waitUntil(() => {
        expect(survivor.assigned()).toHaveLength(1);
        expect(victim.assigned()).toHaveLength(1);
      });

      await victim.stop('SIGKILL'); // no LeaveGroup: only the session timeout can remove it
      await waitUntil(() => expect(survivor.assigned()).toEqual([0, 1]));
      expect(
        brokerLog.some((line) => line.includes('kcat-session-group') && line.includes('session timeout')),
      ).toBe(true);
      await survivor.stop();
    });

    it('reads with kcat what kafkajs produced, and with kafkajs what kcat produced', async () => {
      await createTopic('kcat-interop', 2);
      const producer = kafkajs().producer({
        idempotent: true,
        createPartitioner: Partitioners.DefaultPartitioner,
      });
      await producer.connect();
      await producer.send({
        topic: 'kcat-interop',
        compression: CompressionTypes.GZIP,
        messages: [
          { key: 'from-kafkajs-1', value: 'hello-kcat' },
          { key: 'from-kafkajs-2', value: 'hello-again' },
        ],
      });
      await producer.disconnect();
      const readByKcat = await consumeAll('kcat-interop');
      expect(sortedLines(readByKcat)).toEqual(['from-kafkajs-1:hello-kcat', 'from-kafkajs-2:hello-again']);

      await produceLines('kcat-interop', ['from-kcat:hello-kafkajs'], ['-z', 'gzip']);
      const consumer = kafkajs().consumer({ groupId: 'interop-group', maxWaitTimeInMs: 100 });
      const readByKafkajs: string[] = [];
      await consumer.connect();
      await consumer.subscribe({ topic: 'kcat-interop', fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          readByKafkajs.push(`${message.key?.toString()}:${message.value?.toString()}`);
        },
      });
      await waitUntil(() => expect(readByKafkajs).toHaveLength(3));
      await consumer.disconnect();
      expect(readByKafkajs.sort()).toEqual([
        'from-kafkajs-1:hello-kcat',
        'from-kafkajs-2:hello-again',
        'from-kcat:hello-kafkajs',
      ]);
    });
  },
);
