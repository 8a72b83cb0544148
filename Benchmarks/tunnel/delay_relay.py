#!/usr/bin/env python3
"""A TCP relay that delays every byte by a fixed time in each direction, without limiting throughput: the round-trip
time of a long link on loopback (this machine's kernel has no netem). What it reads it forwards ONE_WAY_MS later; it
never stops reading, so what is in flight is the throughput times the delay, as on a real link.
Usage: delay_relay.py LISTEN_PORT TARGET_HOST:TARGET_PORT ONE_WAY_MS"""
import asyncio
import sys


async def pipe(reader, writer, delay):
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def forward():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                if writer.can_write_eof():
                    writer.write_eof()
                return
            writer.write(data)
            await writer.drain()

    sender = asyncio.create_task(forward())
    try:
        while True:
            data = await reader.read(1 << 20)
            queue.put_nowait((loop.time() + delay, data))
            if not data:
                break
        await sender
    except (ConnectionError, asyncio.CancelledError):
        sender.cancel()
    finally:
        writer.close()


async def main():
    listen_port, target, one_way_ms = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    host, port = target.rsplit(":", 1)
    delay = one_way_ms / 1000

    async def accepted(client_reader, client_writer):
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(host, int(port))
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, upstream_writer, delay), pipe(upstream_reader, client_writer, delay))

    server = await asyncio.start_server(accepted, "127.0.0.1", listen_port)
    async with server:
        await server.serve_forever()


asyncio.run(main())
