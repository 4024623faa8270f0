// node-hl7-server as a peer that keeps the connection open and answers with its own ACK builder.
// Prints {"port":N}, then one JSON line per message received. usage: node node-hl7-server-peer.mjs
import net from 'node:net';
import { Server } from 'node-hl7-server';

const probe = net.createServer().listen(0, '127.0.0.1');
await new Promise((resolve) => probe.on('listening', resolve));
const port = probe.address().port;
await new Promise((resolve) => probe.close(resolve));

const server = new Server({ bindAddress: '127.0.0.1' });
server.createInbound({ port }, async (req, res) => {
  console.log(JSON.stringify({ received: req.getMessage().get('MSH.10').toString() }));
  await res.sendResponse('AA');
});
console.log(JSON.stringify({ port }));
