// An MLLP server from @medplum/hl7 (Hl7Server) on a free loopback port: prints {"port":N}, then one JSON line per
// message received, and answers each with the ACK that @medplum/core builds (AA, MSA-2 = MSH-10).
import { Hl7Server } from '@medplum/hl7';

const server = new Hl7Server((connection) => {
  connection.addEventListener('message', ({ message }) => {
    console.log(JSON.stringify({ received: message.getSegment('MSH')?.getField(10)?.toString() }));
    connection.send(message.buildAck());
  });
});
await server.start(0);
console.log(JSON.stringify({ port: server.server.address().port }));
process.on('SIGTERM', async () => { await server.stop(); process.exit(0); });
