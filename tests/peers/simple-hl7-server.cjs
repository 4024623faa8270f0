// simple-hl7's TCP server as a misbehaving peer: it reads a socket's data as ONE message until it ends in FS CR, so
// frames pipelined into one read are parsed as a single message (the rest dropped or ACKed as garbage).
// Prints {"port":N}, then one JSON line per message it thinks it received. usage: node simple-hl7-server.cjs
const hl7 = require('simple-hl7');
const app = hl7.tcp();
app.use((req, res, next) => {
  console.log(JSON.stringify({ received: String(req.msg.header.getField(8)) }));
  res.end();
});
app.use((err, req, res, next) => { console.log(JSON.stringify({ error: String(err && err.message) })); });
const tcp = app.start(0);
tcp.server.on('listening', () => console.log(JSON.stringify({ port: tcp.server.address().port })));
