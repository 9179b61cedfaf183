import { createSocket, type Socket } from "node:dgram";
import { once } from "node:events";
import dnsPacket from "dns-packet";

/**
 * A tiny authoritative DNS server on 127.0.0.1 for tests: each name has a sequence of answers per
 * record type; the n-th query gets the n-th answer (the last one repeats), so a test can script DNS
 * rebinding (public first, then 127.0.0.1). Unknown names get NXDOMAIN.
 */
export interface DnsFixture {
  /** `127.0.0.1:<port>`, for `dnsServerResolver([...])`. */
  readonly server: string;
  /** Queries received, in order (`A rebind.test`). */
  readonly queries: string[];
  close(): Promise<void>;
}

export type Zone = Record<string, { A?: string[][]; AAAA?: string[][] }>;

export async function startDnsFixture(zone: Zone): Promise<DnsFixture> {
  const socket: Socket = createSocket("udp4");
  const queries: string[] = [];
  const served = new Map<string, number>();
  socket.on("message", (msg, rinfo) => {
    const q = dnsPacket.decode(msg);
    const question = q.questions?.[0];
    if (!question) return;
    const name = question.name.toLowerCase();
    const type = question.type as "A" | "AAAA";
    queries.push(`${type} ${name}`);
    const entry = zone[name];
    const sequence = entry?.[type];
    let answers: string[] = [];
    if (sequence && sequence.length > 0) {
      const key = `${type} ${name}`;
      const n = served.get(key) ?? 0;
      served.set(key, n + 1);
      answers = sequence[Math.min(n, sequence.length - 1)]!;
    }
    const reply = dnsPacket.encode({
      type: "response",
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (entry ? 0 : 3), // rcode 3: NXDOMAIN
      questions: q.questions,
      answers: answers.map((data) => ({ type, name: question.name, ttl: 0, class: "IN", data })),
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.bind(0, "127.0.0.1");
  await once(socket, "listening");
  const { port } = socket.address();
  return {
    server: `127.0.0.1:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
