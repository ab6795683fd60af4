/**
 * The TCP side of the broker: 4-byte size-prefixed frames, request headers, dispatch to the API
 * handlers, and ApiVersions (which describes the dispatch table itself).
 *
 * Each connection handles one request at a time and answers in arrival order, as a Kafka broker
 * does (it mutes a channel while a request is in flight); pipelined requests simply queue up. A
 * request this broker does not implement is logged and the connection closed, which is what a
 * real broker does for an API or version it does not know.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { ProtocolError, Reader, Writer } from './codec.js';
import { type ApiHandler, ApiKey, ErrorCode, isFlexible, type Log } from './protocol.js';

const API_VERSIONS_MIN = 0;
const API_VERSIONS_MAX = 3;
const API_VERSIONS_FLEXIBLE_FROM = 3;
/** Frames beyond this are refused: a garbage size prefix must not make the broker buffer forever. */
const MAX_FRAME_BYTES = 100 * 1024 * 1024;

interface Frame {
  apiKey: number;
  version: number;
  correlationId: number;
  body: Buffer;
}

export interface KafkaServer {
  readonly port: number;
  /** Closes every client socket (the listener stays up, so clients reconnect). */
  dropConnections(): void;
  close(): Promise<void>;
}

/** Sees every request the broker serves (tests record which API versions clients negotiated). */
export type RequestObserver = (request: { api: string; version: number; clientId: string | null }) => void;

export async function startServer(
  handlers: readonly ApiHandler[],
  log: Log,
  onRequest: RequestObserver,
  host: string,
): Promise<KafkaServer> {
  const byKey = new Map<number, ApiHandler>(handlers.map((handler) => [ApiKey[handler.name], handler]));
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    serveConnection(socket, byKey, log, onRequest);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('broker listener has no TCP port');
  return {
    port: address.port,
    dropConnections() {
      for (const socket of sockets) socket.destroy();
    },
    close() {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

function serveConnection(
  socket: Socket,
  handlers: Map<number, ApiHandler>,
  log: Log,
  onRequest: RequestObserver,
): void {
  const closed = new AbortController();
  const queue: Frame[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let busy = false;

  const fail = (message: string) => {
    log(`closing connection from ${socket.remoteAddress}:${socket.remotePort}: ${message}`);
    socket.destroy();
  };

  const processQueue = async () => {
    if (busy) return;
    busy = true;
    try {
      for (let frame = queue.shift(); frame && !socket.destroyed; frame = queue.shift()) {
        const response = await untilClosed(
          answer(frame, handlers, closed.signal, log, onRequest),
          closed.signal,
        );
        if (response === 'close') return socket.destroy();
        if (response !== null && response !== 'closed' && !socket.destroyed) socket.write(response);
      }
    } catch (error) {
      fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
    } finally {
      busy = false;
    }
  };

  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (size < 8 || size > MAX_FRAME_BYTES) return fail(`invalid frame size ${size}`);
      if (pending.length < 4 + size) break;
      const frame = pending.subarray(4, 4 + size);
      pending = pending.subarray(4 + size);
      queue.push({
        apiKey: frame.readInt16BE(0),
        version: frame.readInt16BE(2),
        correlationId: frame.readInt32BE(4),
        body: frame.subarray(8),
      });
    }
    void processQueue();
  });
  socket.on('close', () => {
    closed.abort();
    queue.length = 0;
  });
  // A reset from a client that went away is ordinary; 'close' follows and cleans up.
  socket.on('error', () => {});
}

/**
 * The request's outcome, or 'closed' as soon as the connection closes: a request still waiting (a
 * JoinGroup, a long-polling Fetch) must not hold on to a closed connection.
 */
function untilClosed<T>(outcome: Promise<T>, signal: AbortSignal): Promise<T | 'closed'> {
  if (signal.aborted) return Promise.resolve('closed');
  return new Promise((resolve, reject) => {
    const onClose = () => resolve('closed');
    signal.addEventListener('abort', onClose, { once: true });
    outcome.then(resolve, reject).finally(() => signal.removeEventListener('abort', onClose));
  });
}

/** The framed response, null for no response, or 'close' when the request cannot be served. */
async function answer(
  frame: Frame,
  handlers: Map<number, ApiHandler>,
  signal: AbortSignal,
  log: Log,
  onRequest: RequestObserver,
): Promise<Buffer | null | 'close'> {
  const { apiKey, version, correlationId } = frame;
  if (apiKey === ApiKey.ApiVersions) {
    // Answered in response header v0 in every version (KIP-511), so clients can always parse it.
    if (version < API_VERSIONS_MIN || version > API_VERSIONS_MAX) {
      log(`ApiVersions v${version} is not supported: answering UNSUPPORTED_VERSION in the v0 format`);
      return framed(correlationId, apiVersionsBody(handlers, 0, ErrorCode.UNSUPPORTED_VERSION), false);
    }
    onRequest({ api: 'ApiVersions', version, clientId: new Reader(frame.body).classicNullableString() });
    return framed(correlationId, apiVersionsBody(handlers, version, ErrorCode.NONE), false);
  }
  const handler = handlers.get(apiKey);
  if (handler === undefined || version < handler.minVersion || version > handler.maxVersion) {
    const name = handler?.name ?? `api key ${apiKey}`;
    log(`unsupported request: ${name} v${version} (correlation id ${correlationId}); closing the connection`);
    return 'close';
  }
  const flexible = isFlexible(handler, version);
  const request = new Reader(frame.body, flexible);
  const clientId = request.classicNullableString();
  if (flexible) request.taggedFields();
  onRequest({ api: handler.name, version, clientId });
  let dropConnection = false;
  try {
    const body = await handler.handle({
      version,
      clientId,
      request,
      signal,
      responseWriter: (throttleTimeFrom) => {
        const response = new Writer(flexible);
        return throttleTimeFrom !== undefined && version >= throttleTimeFrom ? response.int32(0) : response;
      },
      dropConnectionInsteadOfResponding: () => {
        dropConnection = true;
      },
    });
    if (dropConnection) return 'close';
    return body === null ? null : framed(correlationId, body, flexible);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    log(`malformed ${handler.name} v${version} request: ${error.message}; closing the connection`);
    return 'close';
  }
}

/** Size prefix, response header (v1 with tagged fields for flexible APIs, else v0) and body. */
function framed(correlationId: number, body: Writer, headerTaggedFields: boolean): Buffer {
  const payload = body.toBuffer();
  const header = new Writer(headerTaggedFields).int32(correlationId).taggedFields().toBuffer();
  const size = Buffer.allocUnsafe(4);
  size.writeInt32BE(header.length + payload.length);
  return Buffer.concat([size, header, payload]);
}

function apiVersionsBody(handlers: Map<number, ApiHandler>, version: number, errorCode: number): Writer {
  const advertised = [
    { key: ApiKey.ApiVersions, minVersion: API_VERSIONS_MIN, maxVersion: API_VERSIONS_MAX },
    ...[...handlers].map(([key, { minVersion, maxVersion }]) => ({ key, minVersion, maxVersion })),
  ].sort((a, b) => a.key - b.key);
  const body = new Writer(version >= API_VERSIONS_FLEXIBLE_FROM);
  body.int16(errorCode);
  body.array(advertised, (writer, api) => {
    writer.int16(api.key).int16(api.minVersion).int16(api.maxVersion).taggedFields();
  });
  if (version >= 1) body.int32(0); // throttle_time_ms
  return body.taggedFields();
}
