// The Redis store's worker thread: owns the ioredis connection and runs what the store's thread
// sends, in the order it was sent (see redis-bridge.ts). Loaded only by RedisBridge, so ioredis is
// never loaded by `import "rein"`.
import { type MessagePort, parentPort, workerData } from "node:worker_threads";
import type { ChainableCommander, Redis as RedisClient } from "ioredis";
import { SCRIPTS } from "./redis-scripts.js";

interface Data {
  readonly url: string;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly flag: Int32Array;
  readonly port: MessagePort;
}
interface Message {
  readonly id: number;
  readonly op: "connect" | "run" | "quit";
  readonly commands?: readonly [string, ...(string | number)[]][];
  readonly atomic?: boolean;
  readonly sync?: boolean;
}

const data = workerData as Data;
let redis: RedisClient | undefined;
let connected = false;

function reply(message: Message, body: Record<string, unknown>): void {
  if (message.sync) {
    data.port.postMessage({ id: message.id, ...body });
    Atomics.add(data.flag, 0, 1);
    Atomics.notify(data.flag, 0);
  } else parentPort?.postMessage({ id: message.id, ...body });
}

const unavailable = (message: Message, why: string, code = "REIN_STORE_UNREACHABLE") =>
  reply(message, { error: { code, message: why } });

function where(): string {
  try {
    const u = new URL(data.url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return "(an invalid URL)";
  }
}

async function connect(message: Message): Promise<void> {
  let Redis: typeof import("ioredis").Redis;
  try {
    ({ Redis } = await import("ioredis"));
  } catch (err) {
    return unavailable(
      message,
      `The Redis store needs the ioredis package, which did not load: ${String(err)}`,
      "REIN_STORE_UNAVAILABLE",
    );
  }
  let opening = true;
  let lastError = "";
  try {
    redis = new Redis(data.url, {
      lazyConnect: true,
      connectTimeout: data.connectTimeoutMs,
      commandTimeout: data.commandTimeoutMs,
      // Commands never wait in a queue for a connection that is down: they fail, and the store with them.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      // Opening fails on the first refusal; later, a dropped connection is retried for about 10 s.
      retryStrategy: (times) => (opening || times > 20 ? null : Math.min(times * 100, 1000)),
    });
  } catch (err) {
    return unavailable(
      message,
      `Invalid Redis URL ${where()}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  redis.on("error", (err: Error) => {
    lastError = err.message;
  });
  try {
    await redis.connect();
    for (const [name, lua] of Object.entries(SCRIPTS)) redis.defineCommand(name, { numberOfKeys: 0, lua });
    connected = true;
    opening = false;
    reply(message, {});
  } catch (err) {
    opening = false;
    redis.disconnect();
    const why = lastError || (err instanceof Error ? err.message : String(err));
    unavailable(
      message,
      `Cannot reach Redis at ${where()}: ${why}. Start one (tests and local use: bash scripts/setup-redis.sh) or fix the URL.`,
    );
  }
}

function run(message: Message): void {
  if (!redis || !connected) {
    unavailable(message, `Not connected to Redis at ${where()}.`);
    return;
  }
  // The commands are issued now, before any later message's: Redis sees them in the order sent.
  const chain: ChainableCommander = message.atomic ? redis.multi() : redis.pipeline();
  for (const [name, ...args] of message.commands ?? []) {
    const fn = (chain as unknown as Record<string, (...a: unknown[]) => unknown>)[name];
    if (typeof fn !== "function") {
      reply(message, { error: { code: "REIN_STORE_FAILED", message: `unknown command ${name}` } });
      return;
    }
    fn.apply(chain, args);
  }
  chain.exec().then(
    (results) => {
      if (!results)
        return reply(message, {
          error: { code: "REIN_STORE_FAILED", message: "the transaction was aborted" },
        });
      reply(message, {
        replies: results.map(([err, value]) =>
          err ? { ok: false, error: err.message } : { ok: true, value },
        ),
      });
    },
    (err: Error) => {
      const down = redis?.status !== "ready";
      reply(message, {
        error: {
          code: down ? "REIN_STORE_UNREACHABLE" : "REIN_STORE_FAILED",
          message: `Redis at ${where()}: ${err.message}`,
        },
      });
    },
  );
}

parentPort?.on("message", (message: Message) => {
  if (message.op === "connect") void connect(message);
  else if (message.op === "run") run(message);
  else if (message.op === "quit") {
    const done = () => reply(message, {});
    if (redis && connected) redis.quit().then(done, done);
    else done();
  }
});
