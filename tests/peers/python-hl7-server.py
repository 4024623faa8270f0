# An MLLP server from Debian's python3-hl7 (hl7.mllp): prints {"port": N}, then one JSON line per message received,
# and answers each with an AA whose MSA-2 is the message's MSH-10. Run with /usr/bin/python3.
import asyncio, json, sys
import hl7
from hl7.mllp import start_hl7_server


async def handle(reader, writer):
    try:
        while not writer.is_closing():
            message = await reader.readmessage()
            control_id = str(message.segment("MSH")[10])
            print(json.dumps({"received": control_id, "receivingApplication": str(message.segment("MSH")[5]),
                              "receivingFacility": str(message.segment("MSH")[6])}), flush=True)
            writer.writemessage(message.create_ack())
            await writer.drain()
    except asyncio.IncompleteReadError:
        pass
    finally:
        writer.close()


async def main():
    server = await start_hl7_server(handle, host="127.0.0.1", port=0)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
