// Sends N generated ADT^A01 messages to an MLLP server with @medplum/hl7's Hl7Client, all in flight at once
// (pipelined; the client matches replies by MSA-2), and prints one JSON line per reply.
// usage: node medplum-client.mjs HOST PORT COUNT PREFIX
import { Hl7Client } from '@medplum/hl7';
import { Hl7Message } from '@medplum/core';

const [host, port, count, prefix] = process.argv.slice(2);
const client = new Hl7Client({ host, port: Number(port), keepAlive: true });
const sends = [];
for (let i = 1; i <= Number(count); i++) {
  const id = `${prefix}${i}`;
  const text = `MSH|^~\\&|MEDPLUM|RX1|ENGINE|RX1|20261130081500||ADT^A01^ADT_A01|${id}|P|2.5.1\r` +
    `EVN|A01|20261130081500\rPID|1||MP${i % 7}^^^R0B^MR||PEER^TEST||19800101|F\rPV1|1|I|WARD1^^^R0B01||||||||||||||||V${i}^^^R0B\r`;
  sends.push(client.sendAndWait(Hl7Message.parse(text), { timeoutMs: 30000 })
    .then((ack) => ({ sent: id, code: ack.getSegment('MSA')?.getField(1)?.toString(), msa2: ack.getSegment('MSA')?.getField(2)?.toString() }))
    .catch((err) => ({ sent: id, error: String(err?.message ?? err) })));
}
const results = await Promise.all(sends);
for (const r of results) console.log(JSON.stringify(r));
// Hl7Client.close() waits about 30 s for its socket to drain; the replies are in, so end here.
client.close().catch(() => {});
process.exit(0);
